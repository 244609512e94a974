package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Event reasons.
const (
	EventStepStarted     = "StepStarted"
	EventStepSucceeded   = "StepSucceeded"
	EventJobFailed       = ReasonJobFailed
	EventCompleted       = ReasonCompleted
	EventSpecChanged     = "SpecChanged"
	EventJobNameConflict = ReasonJobNameConflict
	// EventReconciliationFailed is the seed's event for unexpected errors.
	EventReconciliationFailed = "ReconciliationFailed"
)

// events tell the story of the run, one event per transition, computed from
// the old status and the new one so that a reconcile that changes nothing
// records nothing.
func events(sj *v1alpha1.SequentialJob, plan stepPlan, status v1alpha1.SequentialJobStatus) []Event {
	var out []Event
	old := sj.Status

	if old.ObservedGeneration != 0 && old.ObservedGeneration != sj.Generation && old.State.Active > 0 {
		out = append(out, Event{corev1.EventTypeWarning, EventSpecChanged, fmt.Sprintf(
			"spec changed (generation %d -> %d) while step %d (%s) is running: it finishes with the spec it started with; later steps use the new spec",
			old.ObservedGeneration, sj.Generation, status.Progress.CurrentIndex, status.Progress.CurrentStep)})
	}

	for i, step := range status.Steps {
		before := oldStep(sj, i).Phase
		if before == step.Phase {
			continue
		}
		switch step.Phase {
		case v1alpha1.PhaseRunning:
			out = append(out, Event{corev1.EventTypeNormal, EventStepStarted,
				fmt.Sprintf("step %d (%s) started: created Job %s", i, step.Name, step.JobName)})
		case v1alpha1.PhaseSucceeded:
			out = append(out, Event{corev1.EventTypeNormal, EventStepSucceeded,
				fmt.Sprintf("step %d (%s) succeeded: Job %s is Complete", i, step.Name, step.JobName)})
		case v1alpha1.PhaseFailed:
			msg := FailureMessage(i, step.Reason)
			if step.Message != "" {
				msg += " (" + step.Message + ")"
			}
			out = append(out, Event{corev1.EventTypeWarning, EventJobFailed, msg})
		}
	}

	if old.Phase != v1alpha1.PhaseSucceeded && status.Phase == v1alpha1.PhaseSucceeded {
		out = append(out, Event{corev1.EventTypeNormal, EventCompleted, fmt.Sprintf("all %d steps succeeded", len(status.Steps))})
	}
	if plan.conflict != nil && !hasReason(old, v1alpha1.ConditionProgressing, ReasonJobNameConflict) {
		out = append(out, Event{corev1.EventTypeWarning, EventJobNameConflict, meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionProgressing).Message})
	}
	if plan.problem != nil {
		// Every failed attempt is reported: the recorder folds repeats into
		// one event series, and attempts are spaced by the retry backoff.
		reason := plan.problem.Reason
		if plan.problem.ConditionType == v1alpha1.ConditionFailed {
			reason = EventReconciliationFailed
		}
		out = append(out, Event{corev1.EventTypeWarning, reason, plan.problem.Message})
	}
	return out
}

func hasReason(status v1alpha1.SequentialJobStatus, conditionType, reason string) bool {
	c := meta.FindStatusCondition(status.Conditions, conditionType)
	return c != nil && c.Reason == reason
}
