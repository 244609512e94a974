package render

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// runStatus is the whole status for the decision, in the seed's shape: it
// counts the record, and takes the phase and the conditions from the
// state's row (conditions.go).
func runStatus(sj *v1alpha1.SequentialJob, rec runRecord, d decision, now metav1.Time) v1alpha1.SequentialJobStatus {
	old := sj.Status
	status := v1alpha1.SequentialJobStatus{
		ObservedGeneration: sj.Generation,
		Steps:              d.steps,
		Finally:            d.finally,
		Conditions:         cloneConditions(old.Conditions),
		Attempt:            max(old.Attempt, 1),
		RetryToken:         sj.Spec.RetryToken,
		ActiveStartTime:    d.clock.activeStart,
		SuspendTime:        d.clock.suspendTime,
		QueueTime:          d.clock.queueTime,
		ApprovalWaitTime:   d.clock.waitTime,
	}
	if rec.retried {
		status.Attempt++
	}
	if rec.deferred {
		status.RetryToken = old.RetryToken // not seen yet: acted on once the Job ends
	}
	if rec.finished {
		status.ActiveStartTime = old.ActiveStartTime
	}
	last := count(&status, d)
	status.Progress.Summary = fmt.Sprintf("%d/%d", len(status.Progress.CompletedIndices), len(d.steps))
	if d.current != nil {
		status.Progress.CurrentIndex = int32(d.current.index)
		status.Progress.CurrentStep = d.current.name
		status.Progress.InFinally = d.current.finally
	}
	status.Phase = states[d.state].phase(d)
	switch d.state {
	case stateFailed:
		failed := d.entry(d.failed)
		if !d.failed.finally {
			index := int32(d.failed.index)
			status.Progress.FailedIndex = &index
		}
		status.Progress.FailureReason = failed.Reason
		if failed.Reason == v1alpha1.ReasonRunDeadlineExceeded {
			status.Progress.FailureReason = v1alpha1.ReasonDeadlineExceeded
		}
		status.CompletionTime = failed.CompletionTime
		if anyStarted(d.finally) {
			status.CompletionTime = last
		}
	case stateSucceeded:
		status.CompletionTime = last
	}
	if d.state.ended() {
		status.SuspendTime, status.QueueTime, status.ApprovalWaitTime = nil, nil, nil
	}
	setConditions(&status, d, sj.Generation, now)
	return status
}

// count fills the seed's counts and progress from the record, and returns
// the latest completion time of any entry.
func count(status *v1alpha1.SequentialJobStatus, d decision) (last *metav1.Time) {
	for _, finally := range []bool{false, true} {
		for i, step := range d.list(finally) {
			switch step.Phase {
			case v1alpha1.PhaseRunning:
				status.State.Active++
			case v1alpha1.PhaseSucceeded:
				status.State.Succeeded++
				if !finally {
					status.Progress.CompletedIndices = append(status.Progress.CompletedIndices, int32(i))
				}
			case v1alpha1.PhaseFailed:
				status.State.Failed++
			case v1alpha1.PhaseSkipped:
				status.State.Skipped++
			}
			if step.StartTime != nil && (status.StartTime == nil || step.StartTime.Before(status.StartTime)) {
				status.StartTime = step.StartTime
			}
			if step.CompletionTime != nil && (last == nil || last.Before(step.CompletionTime)) {
				last = step.CompletionTime
			}
		}
	}
	return last
}

func cloneConditions(in []metav1.Condition) []metav1.Condition {
	if in == nil {
		return nil
	}
	return append([]metav1.Condition(nil), in...)
}

// statusApply is the status as a server-side apply intent. It is always the
// whole status: a field left out of an apply is removed.
func statusApply(sj *v1alpha1.SequentialJob, status v1alpha1.SequentialJobStatus) *sjac.SequentialJobApplyConfiguration {
	out := sjac.SequentialJob(sj.Name, sj.Namespace)
	out.Status = &sjac.SequentialJobStatusApplyConfiguration{}
	mustRoundTrip(status, out.Status)
	return out
}
