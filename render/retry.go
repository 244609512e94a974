package render

import (
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// retryRequested is true when spec.retryToken has a value the controller
// has not seen and the run is Failed: the retry re-opens it. A new value
// seen in any other phase is only recorded (see runStatus).
//
// With spec.retryFrom, a Succeeded run is re-opened too: the user asks for
// steps that succeeded to run again (see reopenFrom).
func retryRequested(sj *v1alpha1.SequentialJob) bool {
	if sj.Spec.RetryToken == sj.Status.RetryToken {
		return false
	}
	return sj.Status.Phase == v1alpha1.PhaseFailed || (sj.Status.Phase == v1alpha1.PhaseSucceeded && sj.Spec.RetryFrom != "")
}

// reopen is a Failed run's record made ready to run again from where it
// failed. Every entry that failed the run (not one allowed to fail with
// onFailure: Continue) becomes pending again; one that had a Job moves to
// its next attempt and keeps the old one in its history. When a step
// failed, the finally steps that ran become pending too: they ran for the
// run's ending, and the run will end again. When only finally steps failed,
// just those run again. The steps that succeeded never run again.
//
// A failed entry whose step the same edit removed from spec does not run
// again, and no longer fails the run: it stays as it ended, marked allowed
// (onFailure: Continue), as the user chose to go on without it.
func reopen(sj *v1alpha1.SequentialJob) (steps, finally []v1alpha1.StepStatus) {
	if sj.Spec.RetryFrom != "" {
		return reopenFrom(sj)
	}
	old := sj.Status
	steps = cloneEntries(old.Steps)
	finally = cloneEntries(old.Finally)
	stepFailed := false
	kept := steps[:0]
	for _, step := range steps {
		if failedTheRun(step) {
			stepFailed = true
		}
		switch {
		case !failedTheRun(step):
		case !hasContainer(sj.Spec.Containers, step.Name) && step.StartTime == nil && len(step.PreviousAttempts) == 0:
			// It never ran (rejected, or past the deadline): dropped, as a
			// removed pending step is. Such entries only follow the last
			// step that started, so no entry that ran moves. One whose
			// earlier attempt ran keeps its place: its Jobs' names are
			// its entry's.
			continue
		case !hasContainer(sj.Spec.Containers, step.Name):
			step = removedBeforeRetry(step)
		default:
			step = nextAttempt(step)
		}
		kept = append(kept, step)
	}
	steps = kept
	for i := range finally {
		switch {
		case !failedTheRun(finally[i]) && (!stepFailed || finally[i].Phase == v1alpha1.PhasePending):
			// It did not fail the run, and it did not run because a step
			// failed: it stays as it is.
		case !hasContainer(sj.Spec.Finally, finally[i].Name):
			if failedTheRun(finally[i]) {
				finally[i] = removedBeforeRetry(finally[i])
			}
		default:
			finally[i] = nextAttempt(finally[i])
		}
	}
	return steps, finally
}

// retryStart is the entry a retry with spec.retryFrom starts from: the
// entry of that step, or the first that failed the run when it comes
// earlier (the steps between never succeeded, so they must run). A step
// with no entry yet (added to spec after the run ended) starts after the
// recorded ones: it never ran, so it runs as a pending step does.
func retryStart(sj *v1alpha1.SequentialJob) int {
	start := len(sj.Status.Steps)
	for i, step := range sj.Status.Steps {
		if step.Name == sj.Spec.RetryFrom || failedTheRun(step) {
			return i
		}
	}
	return start
}

// reopenFrom is a finished run's record made ready to run again from
// spec.retryFrom (retryStart): that entry and every later one become
// pending for their next attempt, the entries before it keep their results
// (outputs, and Skipped by when), and every finally step runs again. An
// entry whose step left spec cannot run again: it stays as it ended, and
// one that failed the run is marked allowed, as reopen does.
func reopenFrom(sj *v1alpha1.SequentialJob) (steps, finally []v1alpha1.StepStatus) {
	start := retryStart(sj)
	steps = cloneEntries(sj.Status.Steps[:start])
	for _, step := range sj.Status.Steps[start:] {
		if step, keep := reopenEntry(step, sj.Spec.Containers); keep {
			steps = append(steps, step)
		}
	}
	finally = make([]v1alpha1.StepStatus, 0, len(sj.Status.Finally))
	for _, step := range sj.Status.Finally {
		reopened, keep := reopenEntry(step, sj.Spec.Finally)
		if !keep {
			reopened = removedBeforeRetry(step) // a finally step keeps its place
		}
		finally = append(finally, reopened)
	}
	return steps, finally
}

// reopenEntry is one entry a retry runs again, and whether it stays in the
// record: a failed entry of a removed step that never ran is dropped, as in
// reopen.
func reopenEntry(step v1alpha1.StepStatus, spec []corev1.Container) (v1alpha1.StepStatus, bool) {
	switch {
	case hasContainer(spec, step.Name):
		return nextAttempt(step), true
	case !failedTheRun(step):
		return step, true
	case step.StartTime == nil && len(step.PreviousAttempts) == 0:
		return step, false
	default:
		return removedBeforeRetry(step), true
	}
}

// removedBeforeAttempt is an entry a retry re-opened (it waits, pending,
// among the entries that started) whose step an edit then removed from
// spec: as a removed pending step, it does not run. It keeps its history.
func removedBeforeAttempt(step v1alpha1.StepStatus) v1alpha1.StepStatus {
	step.Phase, step.Reason, step.Message = v1alpha1.PhaseSkipped, v1alpha1.ReasonRemovedFromSpec, msgRemovedBeforeAttempt
	return step
}

// removedBeforeRetry is a failed entry whose step left spec with the retry.
func removedBeforeRetry(step v1alpha1.StepStatus) v1alpha1.StepStatus {
	step.OnFailure = v1alpha1.OnFailureContinue
	step.Message = joinMessage(step.Message, msgRemovedBeforeRetry)
	return step
}

// nextAttempt is an entry made pending for its next attempt. An entry that
// never had a Job (rejected, or stopped by the run deadline before it
// started) has no attempt to keep: it runs as the attempt it would have.
func nextAttempt(step v1alpha1.StepStatus) v1alpha1.StepStatus {
	next := v1alpha1.StepStatus{Name: step.Name, JobName: step.JobName, Phase: v1alpha1.PhasePending,
		Attempt: step.Attempt, PreviousAttempts: step.PreviousAttempts}
	if step.StartTime == nil {
		return next
	}
	history := append(append([]v1alpha1.StepAttempt(nil), step.PreviousAttempts...), v1alpha1.StepAttempt{
		Attempt: attemptOf(step), JobName: step.JobName, Phase: step.Phase, Reason: step.Reason, Message: step.Message,
		StartTime: step.StartTime, CompletionTime: step.CompletionTime})
	if len(history) > v1alpha1.MaxPreviousAttempts {
		history = history[len(history)-v1alpha1.MaxPreviousAttempts:]
	}
	next.Attempt, next.PreviousAttempts = attemptOf(step)+1, history
	return next
}

func cloneEntries(in []v1alpha1.StepStatus) []v1alpha1.StepStatus {
	return append([]v1alpha1.StepStatus(nil), in...)
}
