package schedule

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// transitions are the events of a change of the Ready condition, computed
// from the old status and the new one, so each is recorded once: a
// schedule that stopped parsing (Warning), one that parses again, a time
// Forbid starts to hold.
func transitions(old, next v1alpha1.SequentialCronJobStatus, p *problem, held *hold) []Event {
	was := meta.FindStatusCondition(old.Conditions, v1alpha1.ConditionReady)
	now := meta.FindStatusCondition(next.Conditions, v1alpha1.ConditionReady)
	switch {
	case p != nil && (was == nil || was.Message != p.message):
		return []Event{{Warning: true, Reason: v1alpha1.EventUnparseableSchedule, Message: p.message}}
	case p == nil && was != nil && was.Status == "False":
		return []Event{{Reason: v1alpha1.EventInvalidScheduleFixed, Message: fmt.Sprintf(msgScheduleFixed, now.Message)}}
	case held != nil && (was == nil || !strings.HasPrefix(was.Message, held.message())):
		return []Event{{Reason: v1alpha1.EventJobAlreadyActive, Message: fmt.Sprintf(msgJobAlreadyActive, formatTime(held.scheduled), held.active)}}
	}
	return nil
}

// deletionEvents record each deleted run.
func deletionEvents(dels []Deletion) []Event {
	var out []Event
	for _, del := range dels {
		out = append(out, Event{Reason: v1alpha1.EventSuccessfulDelete, Message: fmt.Sprintf(msgDeleted, del.Name, del.Reason)})
	}
	return out
}
