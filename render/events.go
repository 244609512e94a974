package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// events tell the story of the run: one per transition, plus warnings about
// the spec and the cluster. Computed from the old status and the new one, a
// reconcile that changes nothing records nothing.
func events(sj *v1alpha1.SequentialJob, plan stepPlan, status v1alpha1.SequentialJobStatus, transitions []Transition) []Event {
	var out []Event
	if e, ok := specChanged(sj, plan, status); ok {
		out = append(out, e)
	}
	for _, t := range transitions {
		if e, ok := transitionEvent(t, status); ok {
			out = append(out, e)
		}
	}
	if plan.conflict != nil && !hasReason(sj.Status, v1alpha1.ConditionStalled, v1alpha1.ReasonJobNameConflict) {
		out = append(out, Event{corev1.EventTypeWarning, v1alpha1.ReasonJobNameConflict, meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionStalled).Message})
	}
	if plan.problem != nil {
		// Every failed attempt is reported: the recorder folds repeats into
		// one event series, and attempts are spaced by the retry backoff.
		reason := plan.problem.Reason
		if plan.problem.ConditionType == v1alpha1.ConditionFailed {
			reason = v1alpha1.EventReconciliationFailed
		}
		out = append(out, Event{corev1.EventTypeWarning, reason, plan.problem.Message})
	}
	return out
}

// specChanged warns that an edit reached a run that cannot take all of it:
// a running step finishes with the spec it started with, and a finished run
// starts nothing.
func specChanged(sj *v1alpha1.SequentialJob, plan stepPlan, status v1alpha1.SequentialJobStatus) (Event, bool) {
	old := sj.Status
	if old.ObservedGeneration == 0 || old.ObservedGeneration == sj.Generation {
		return Event{}, false
	}
	switch {
	case plan.finished:
		return Event{corev1.EventTypeWarning, v1alpha1.EventSpecChanged, fmt.Sprintf(
			"spec changed (generation %d -> %d) after the run ended %s: a finished run is final, so the edit starts nothing",
			old.ObservedGeneration, sj.Generation, old.Phase)}, true
	case old.State.Active > 0:
		return Event{corev1.EventTypeWarning, v1alpha1.EventSpecChanged, fmt.Sprintf(
			"spec changed (generation %d -> %d) while step %d (%s) is running: it finishes with the spec it started with; the steps that have not started follow the new spec",
			old.ObservedGeneration, sj.Generation, old.Progress.CurrentIndex, old.Progress.CurrentStep)}, true
	}
	return Event{}, false
}

func transitionEvent(t Transition, status v1alpha1.SequentialJobStatus) (Event, bool) {
	if t.IsRun() {
		if t.To == v1alpha1.PhaseSucceeded {
			return Event{corev1.EventTypeNormal, v1alpha1.ReasonCompleted, fmt.Sprintf("all %d steps succeeded", len(status.Steps))}, true
		}
		return Event{}, false
	}
	switch t.To {
	case v1alpha1.PhaseRunning:
		return Event{corev1.EventTypeNormal, v1alpha1.EventStepStarted,
			fmt.Sprintf("step %d (%s) started: created Job %s", t.Index, t.Step, t.JobName)}, true
	case v1alpha1.PhaseSucceeded:
		return Event{corev1.EventTypeNormal, v1alpha1.EventStepSucceeded,
			fmt.Sprintf("step %d (%s) succeeded: Job %s is Complete", t.Index, t.Step, t.JobName)}, true
	case v1alpha1.PhaseFailed:
		reason, msg := failureText(t.Index, status.Steps[t.Index])
		if reason == v1alpha1.ReasonJobFailed && t.Message != "" {
			msg += " (" + t.Message + ")"
		}
		return Event{corev1.EventTypeWarning, reason, msg}, true
	}
	return Event{}, false // a pending step's wait is told by the problem's own event
}

func hasReason(status v1alpha1.SequentialJobStatus, conditionType, reason string) bool {
	c := meta.FindStatusCondition(status.Conditions, conditionType)
	return c != nil && c.Reason == reason
}
