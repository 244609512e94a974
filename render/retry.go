package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// retryDeferred is true when a retry from spec.retryFrom must wait: a Job
// of the finished run has not ended. It re-opens steps that may have run
// since the status was written (a status write lost after an earlier retry
// started a Job), and the run starts one Job at a time, so it waits for
// that Job to end; the Job's end brings the next reconcile. A plain retry
// re-opens only what failed, which a lost write cannot change, so it never
// waits.
func retryDeferred(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time) bool {
	if sj.Spec.RetryFrom == "" {
		return false
	}
	for _, job := range jobs.all {
		if !resultOf(job, now).phase.Terminal() {
			return true
		}
	}
	return false
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
	old := sj.Status
	steps = cloneEntries(old.Steps)
	finally = cloneEntries(old.Finally)
	stepFailed := false
	kept := make([]v1alpha1.StepStatus, 0, len(steps))
	for i, step := range steps {
		if failedTheRun(step) {
			stepFailed = true
		}
		switch {
		case !failedTheRun(step):
		case !hasContainer(sj.Spec.Containers, step.Name) && neverRan(steps, i):
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
func retryStart(sj *v1alpha1.SequentialJob, entries []v1alpha1.StepStatus) int {
	for i, step := range entries {
		if step.Name == sj.Spec.RetryFrom || failedTheRun(step) {
			return i
		}
	}
	return len(entries)
}

// reopenFrom is a finished run's record (entries and finallyEntries) made
// ready to run again from spec.retryFrom, at entry start (retryStart): that entry and every later one become
// pending for their next attempt, the entries before it keep their results
// (outputs, and Skipped by when), and every finally step runs again. An
// entry whose step left spec cannot run again: it stays as it ended, and
// one that failed the run is marked allowed, as reopen does.
func reopenFrom(sj *v1alpha1.SequentialJob, entries, finallyEntries []v1alpha1.StepStatus, start int) (steps, finally []v1alpha1.StepStatus) {
	steps = cloneEntries(entries[:start])
	for i := start; i < len(entries); i++ {
		if step, keep := reopenEntry(entries, i, sj.Spec.Containers); keep {
			steps = append(steps, step)
		}
	}
	finally = make([]v1alpha1.StepStatus, 0, len(finallyEntries))
	for i, step := range finallyEntries {
		reopened, keep := reopenEntry(finallyEntries, i, sj.Spec.Finally)
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
func reopenEntry(entries []v1alpha1.StepStatus, i int, spec []corev1.Container) (v1alpha1.StepStatus, bool) {
	step := entries[i]
	switch {
	case hasContainer(spec, step.Name):
		return nextAttempt(step), true
	case !failedTheRun(step):
		return step, true
	case neverRan(entries, i):
		return step, false
	default:
		return removedBeforeRetry(step), true
	}
}

// neverRan is true when entry i of entries never had a Job and no later
// entry started: it can leave the record without moving an entry that ran.
// An entry before one that started (the lost record of a step, see
// lostStep) keeps its place, or the entries after it would take the names
// of their neighbours' Jobs.
func neverRan(entries []v1alpha1.StepStatus, i int) bool {
	step := entries[i]
	return step.StartTime == nil && len(step.PreviousAttempts) == 0 && !startedAfter(entries, i)
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
