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
func events(sj *v1alpha1.SequentialJob, rec runRecord, d decision, status v1alpha1.SequentialJobStatus, transitions []Transition) []Event {
	var out []Event
	if e, ok := specChanged(sj, rec); ok {
		out = append(out, e)
	}
	if e, ok := retryEvent(sj, rec, status); ok {
		out = append(out, e)
	}
	for _, t := range transitions {
		out = append(out, transitionEvents(t, status)...)
	}
	// Every failed attempt of a held or erroring run is reported: the
	// recorder folds repeats into one event series, and attempts are spaced
	// by the retry backoff. An error younger than ErrorGracePeriod is not:
	// Progressing says it is retried.
	switch d.state {
	case stateBlocked:
		if !hasReason(sj.Status, v1alpha1.ConditionStalled, v1alpha1.ReasonJobNameConflict) {
			out = append(out, Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.ReasonJobNameConflict, Message: conditionMessage(status, v1alpha1.ConditionStalled)})
		}
	case stateHeld:
		out = append(out, Event{Type: corev1.EventTypeWarning, Reason: d.problem.Reason, Message: d.problem.Message})
	case stateErroring:
		out = append(out, Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventReconciliationFailed, Message: d.problem.Message})
	}
	return out
}

// specChanged warns that an edit reached a run that cannot take all of it:
// a running step finishes with the spec it started with, and a finished run
// starts nothing.
func specChanged(sj *v1alpha1.SequentialJob, rec runRecord) (Event, bool) {
	old := sj.Status
	if old.ObservedGeneration == 0 || old.ObservedGeneration == sj.Generation {
		return Event{}, false
	}
	// An edit of a run control (spec.suspend, spec.retryToken) has its own
	// event (Suspended, Resumed, Retry, RetryIgnored): it changes no step.
	// Status does not keep the old spec, so an edit that changes a control
	// and the steps at once is told by the control's event alone.
	if sj.Spec.RetryToken != old.RetryToken || (!rec.finished && suspendRequested(sj) != (old.SuspendTime != nil)) {
		return Event{}, false
	}
	switch {
	case rec.finished:
		return Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventSpecChanged, Message: fmt.Sprintf(
			"spec changed (generation %d -> %d) after the run ended %s: a finished run is final, so the edit starts nothing",
			old.ObservedGeneration, sj.Generation, old.Phase)}, true
	case old.Progress.InFinally:
		return Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventSpecChanged, Message: fmt.Sprintf(
			"spec changed (generation %d -> %d) while the finally steps run: the steps have ended, so the edit starts no step; finally steps that have not started follow the new spec",
			old.ObservedGeneration, sj.Generation)}, true
	case old.State.Active > 0:
		return Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventSpecChanged, Message: fmt.Sprintf(
			"spec changed (generation %d -> %d) while step %d (%s) is running: it finishes with the spec it started with; the steps that have not started follow the new spec",
			old.ObservedGeneration, sj.Generation, old.Progress.CurrentIndex, old.Progress.CurrentStep)}, true
	}
	return Event{}, false
}

// retryEvent tells what a new spec.retryToken did: re-open the Failed run,
// or nothing, because the run had not failed.
func retryEvent(sj *v1alpha1.SequentialJob, rec runRecord, status v1alpha1.SequentialJobStatus) (Event, bool) {
	old := sj.Status
	if sj.Spec.RetryToken == old.RetryToken || old.ObservedGeneration == 0 || rec.deferred {
		return Event{}, false
	}
	if sj.Spec.RetryFrom != "" {
		return retryFromEvent(sj, rec, status), true
	}
	if rec.retried {
		return Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventRetry, Message: fmt.Sprintf(
			"spec.retryToken changed to %q: attempt %d of the run starts again from where it failed; the steps that succeeded do not run again",
			sj.Spec.RetryToken, status.Attempt)}, true
	}
	return Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventRetryIgnored, Message: fmt.Sprintf(
		"spec.retryToken changed to %q while the run is %s: only a Failed run is retried, so it starts nothing",
		sj.Spec.RetryToken, old.Phase)}, true
}

// retryFromEvent is retryEvent's for a retry from spec.retryFrom. It names
// the entry the retry starts from: that step's, or the step that failed the
// run when it came earlier (retryStart), or, for a step with no entry yet,
// the first pending one after the recorded steps.
func retryFromEvent(sj *v1alpha1.SequentialJob, rec runRecord, status v1alpha1.SequentialJobStatus) Event {
	if !rec.retried {
		return Event{Type: corev1.EventTypeWarning, Reason: v1alpha1.EventRetryIgnored, Message: fmt.Sprintf(
			fmtRetryFromIgnored, sj.Spec.RetryToken, sj.Status.Phase, sj.Spec.RetryFrom)}
	}
	ref := &stepRef{index: rec.from, name: sj.Spec.RetryFrom}
	if rec.from < len(status.Steps) {
		ref.name = status.Steps[rec.from].Name
	}
	return Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventRetry, Message: fmt.Sprintf(
		fmtRetryFrom, sj.Spec.RetryToken, status.Attempt, ref.describe(), sj.Spec.RetryFrom)}
}

// transitionEvents are one transition's events: its start, when its Job
// was created within it, then how it ended.
func transitionEvents(t Transition, status v1alpha1.SequentialJobStatus) []Event {
	if t.IsRun() {
		return runEvents(t, status)
	}
	var out []Event
	ref := &stepRef{finally: t.Finally, index: t.Index, name: t.Step, job: t.JobName}
	what := ref.describe()
	if t.Started {
		out = append(out, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStepStarted, Job: t.JobName,
			Message: fmt.Sprintf("%s started: created Job %s", what, t.JobName)})
	}
	switch {
	case t.To == v1alpha1.PhaseQueued && t.From != v1alpha1.PhaseQueued:
		out = append(out, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.ReasonQueued, Job: t.JobName,
			Message: fmt.Sprintf("%s is queued: %s", what, t.Message)})
	case t.To == v1alpha1.PhaseRunning && t.From == v1alpha1.PhaseQueued:
		out = append(out, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStepAdmitted, Job: t.JobName,
			Message: fmt.Sprintf("%s was admitted by its queue: Job %s runs", what, t.JobName)})
	}
	switch t.To {
	case v1alpha1.PhaseSkipped:
		// The Job it would have had names it as the event's related
		// object, as for a step refused before its Job: two steps skipped
		// in one reconcile stay two events.
		out = append(out, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStepSkipped, Job: t.JobName,
			Message: fmt.Sprintf(fmtStepSkipped, what, t.Message)})
	case v1alpha1.PhaseSucceeded:
		out = append(out, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventStepSucceeded, Job: t.JobName,
			Message: fmt.Sprintf("%s succeeded: Job %s is Complete", what, t.JobName)})
	case v1alpha1.PhaseFailed:
		step := t.Entry(status)
		reason, msg := runFailureText(ref, step)
		if reason == v1alpha1.ReasonJobFailed && t.Message != "" {
			msg += " (" + t.Message + ")"
		}
		if step.OnFailure == v1alpha1.OnFailureContinue {
			msg += "; the run goes on (onFailure: Continue)"
		}
		out = append(out, Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg, Job: t.JobName})
	}
	// A pending step's wait is told by the problem's own event.
	return out
}

// runEvents are the run's own: it succeeded, was suspended or resumed.
// How it failed is the failed step's event.
func runEvents(t Transition, status v1alpha1.SequentialJobStatus) []Event {
	switch {
	case t.To == v1alpha1.PhaseSucceeded:
		return []Event{{Type: corev1.EventTypeNormal, Reason: v1alpha1.ReasonCompleted, Message: conditionMessage(status, v1alpha1.ConditionAvailable)}}
	case t.To == v1alpha1.PhaseSuspended:
		return []Event{{Type: corev1.EventTypeNormal, Reason: v1alpha1.ReasonSuspended, Message: conditionMessage(status, v1alpha1.ConditionSuspended)}}
	case t.To == v1alpha1.PhaseWaiting:
		return append(resumed(t), awaitingEvent(status))
	case t.From == v1alpha1.PhaseSuspended && !t.To.Terminal():
		return resumed(t)
	case t.From == v1alpha1.PhaseWaiting && (t.To == v1alpha1.PhaseRunning || t.To == v1alpha1.PhaseQueued):
		return []Event{approvedEvent(status)}
	}
	return nil
}

func resumed(t Transition) []Event {
	if t.From != v1alpha1.PhaseSuspended {
		return nil
	}
	return []Event{{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventResumed,
		Message: "spec.suspend was cleared: the run resumes; a step that was running starts its pods again"}}
}

// awaitingEvent and approvedEvent tell that the run reached an approval
// gate (approval.go), and that the gate released it: status.progress names
// the gated step.
func awaitingEvent(status v1alpha1.SequentialJobStatus) Event {
	what := fmt.Sprintf(fmtStep, status.Progress.CurrentIndex, status.Progress.CurrentStep)
	return Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.ReasonAwaitingApproval, Message: fmt.Sprintf(fmtAwaitingEvent, what)}
}

func approvedEvent(status v1alpha1.SequentialJobStatus) Event {
	what := fmt.Sprintf(fmtStep, status.Progress.CurrentIndex, status.Progress.CurrentStep)
	return Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventApproved, Message: fmt.Sprintf(fmtApprovedEvent, what)}
}

func hasReason(status v1alpha1.SequentialJobStatus, conditionType, reason string) bool {
	c := meta.FindStatusCondition(status.Conditions, conditionType)
	return c != nil && c.Reason == reason
}

// conditionMessage is the message of a condition of status, or "" when it
// is absent.
func conditionMessage(status v1alpha1.SequentialJobStatus, conditionType string) string {
	if c := meta.FindStatusCondition(status.Conditions, conditionType); c != nil {
		return c.Message
	}
	return ""
}
