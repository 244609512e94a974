package render

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// stateRow is one row of the state table: what a state shows and when the
// run is looked at again, in the manner of JobSet's conditionOpts.
type stateRow struct {
	// phase is status.phase in this state.
	phase func(d decision) v1alpha1.Phase
	// holds are the conditions that are True in this state. Failed,
	// Progressing and Available are the seed's; Reconciling and Stalled are
	// kstatus's; Complete is Available for Job users.
	holds []string
	// text is the reason and message of the state's conditions.
	text func(d decision, status v1alpha1.SequentialJobStatus) (reason, message string)
	// look is when to look again besides the changes the controller watches.
	look LookAgain
}

// states is the table. Every state has a row (a test checks it).
var states = map[runState]stateRow{
	stateRunning: {phase: always(v1alpha1.PhaseRunning), look: LookOnChange,
		holds: []string{v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling}, text: runningText},
	stateQueued: {phase: always(v1alpha1.PhaseQueued), look: LookOnChange,
		holds: []string{v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling}, text: queuedText},
	// Reconciling keeps kstatus from reading a suspended run as Current.
	stateSuspended: {phase: always(v1alpha1.PhaseSuspended), look: LookOnChange,
		holds: []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionSuspended}, text: suspendedText},
	// Reconciling, as for Suspended: a run waiting for a person is not
	// Current for kstatus.
	stateWaiting: {phase: always(v1alpha1.PhaseWaiting), look: LookOnChange,
		holds: []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionAwaitingApproval}, text: awaitingText},
	stateBlocked: {phase: waitingPhase, look: LookPoll,
		holds: []string{v1alpha1.ConditionStalled}, text: blockedText},
	// Reconciling, not Stalled: the controller retries on its own.
	stateHeld: {phase: waitingPhase, look: LookBackoff,
		holds: []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionResourcesUnavailable}, text: waitingText},
	stateRetrying: {phase: waitingPhase, look: LookBackoff,
		holds: []string{v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling}, text: retryingText},
	stateErroring: {phase: waitingPhase, look: LookBackoff,
		holds: []string{v1alpha1.ConditionFailed, v1alpha1.ConditionReconciling}, text: waitingText},
	stateFinally: {phase: always(v1alpha1.PhaseRunning), look: LookOnChange,
		holds: []string{v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling}, text: finallyText},
	stateSucceeded: {phase: always(v1alpha1.PhaseSucceeded), look: LookOnChange,
		holds: []string{v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete}, text: succeededText},
	stateFailed: {phase: always(v1alpha1.PhaseFailed), look: LookOnChange,
		holds: []string{v1alpha1.ConditionFailed, v1alpha1.ConditionStalled}, text: failedText},
}

// conditionTypes are the conditions status carries, in this order.
var conditionTypes = []string{
	v1alpha1.ConditionFailed, v1alpha1.ConditionProgressing, v1alpha1.ConditionAvailable, v1alpha1.ConditionReconciling,
	v1alpha1.ConditionStalled, v1alpha1.ConditionResourcesUnavailable, v1alpha1.ConditionSuspended, v1alpha1.ConditionComplete,
	v1alpha1.ConditionAwaitingApproval,
}

// presentOnlyWhileTrue are the conditions that tools read as "abnormal-true"
// (kstatus's Reconciling and Stalled) or that only explain a wait.
var presentOnlyWhileTrue = map[string]bool{
	v1alpha1.ConditionReconciling:          true,
	v1alpha1.ConditionStalled:              true,
	v1alpha1.ConditionResourcesUnavailable: true,
	v1alpha1.ConditionSuspended:            true,
	v1alpha1.ConditionComplete:             true,
	v1alpha1.ConditionAwaitingApproval:     true,
}

func always(p v1alpha1.Phase) func(decision) v1alpha1.Phase {
	return func(decision) v1alpha1.Phase { return p }
}

// waitingPhase is the phase of a run whose next entry cannot start: still
// Pending for a step, Running once the finally steps run.
func waitingPhase(d decision) v1alpha1.Phase {
	if d.current.finally {
		return v1alpha1.PhaseRunning
	}
	return v1alpha1.PhasePending
}

// setConditions writes the state's row with meta.SetStatusCondition, which
// keeps lastTransitionTime while a condition's status holds.
func setConditions(status *v1alpha1.SequentialJobStatus, d decision, generation int64, now metav1.Time) {
	row := states[d.state]
	reason, message := row.text(d, *status)
	for _, t := range conditionTypes {
		c := metav1.Condition{Type: t, Status: metav1.ConditionFalse, Reason: reason, Message: message}
		holds := contains(row.holds, t)
		if holds {
			c.Status = metav1.ConditionTrue
		}
		switch {
		case t == v1alpha1.ConditionFailed && !holds:
			c.Reason, c.Message = v1alpha1.ReasonNoFailure, ""
		case t == v1alpha1.ConditionFailed && d.problem != nil:
			c.Message = d.problem.Message // the apiserver's error as it is
		case t == v1alpha1.ConditionResourcesUnavailable && d.problem != nil:
			c.Reason, c.Message = d.problem.Reason, d.problem.Message
		}
		if !holds && presentOnlyWhileTrue[t] {
			meta.RemoveStatusCondition(&status.Conditions, t)
			continue
		}
		c.ObservedGeneration = generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&status.Conditions, c)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func succeeded(status v1alpha1.SequentialJobStatus) int { return len(status.Progress.CompletedIndices) }

func runningText(d decision, status v1alpha1.SequentialJobStatus) (string, string) {
	c := d.current
	return v1alpha1.ReasonStepRunning, fmt.Sprintf(fmtRunning, c.index, c.name, c.job, succeeded(status), len(d.steps))
}

func queuedText(d decision, status v1alpha1.SequentialJobStatus) (string, string) {
	return v1alpha1.ReasonQueued, fmt.Sprintf(fmtQueuedRun, d.current.describe(), d.entry(d.current).Message, succeeded(status), len(d.steps))
}

func suspendedText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	if d.current == nil {
		return v1alpha1.ReasonSuspended, msgSuspendedAtStart
	}
	return v1alpha1.ReasonSuspended, fmt.Sprintf(fmtSuspendedAt, d.current.describe())
}

func blockedText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	return v1alpha1.ReasonJobNameConflict, fmt.Sprintf(fmtBlocked, d.current.describe(), d.current.job)
}

func waitingText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	return d.problem.Reason, fmt.Sprintf(fmtWaiting, d.current.describe(), d.problem.Message)
}

func retryingText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	return v1alpha1.ReasonRetrying, fmt.Sprintf(fmtRetrying, d.current.describe(), ErrorGracePeriod, d.problem.Message)
}

func finallyText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	c := d.current
	if d.failed == nil {
		return v1alpha1.ReasonFinallyRunning, fmt.Sprintf(fmtFinallyAfter, len(d.steps), c.describe(), c.job)
	}
	_, failure := runFailureText(d.failed, d.entry(d.failed))
	return v1alpha1.ReasonFinallyRunning, fmt.Sprintf(fmtFinallyAfterFail, d.failed.describe(), failure, c.describe(), c.job)
}

func failedText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	return runFailureText(d.failed, d.entry(d.failed))
}

// succeededText names the failures the run allowed (onFailure: Continue).
func succeededText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	var allowed, skipped []string
	for _, finally := range []bool{false, true} {
		for _, step := range d.list(finally) {
			switch step.Phase {
			case v1alpha1.PhaseFailed:
				allowed = append(allowed, step.Name)
			case v1alpha1.PhaseSkipped:
				skipped = append(skipped, step.Name)
			}
		}
	}
	switch {
	case len(allowed) == 0 && len(skipped) == 0:
		return v1alpha1.ReasonCompleted, fmt.Sprintf(fmtAllSucceeded, len(d.steps))
	case len(allowed) == 0:
		return v1alpha1.ReasonCompleted, fmt.Sprintf(fmtSucceededSkipping, len(d.steps)+len(d.finally), len(skipped), strings.Join(skipped, ", "))
	}
	return v1alpha1.ReasonCompletedWithFailures, fmt.Sprintf(fmtAllowedFailures,
		len(d.steps)+len(d.finally), len(allowed), map[bool]string{true: "was", false: "were"}[len(allowed) == 1], strings.Join(allowed, ", "))
}

// runFailureText is the Failed condition's reason and message for the
// entry that failed the run.
func runFailureText(ref *stepRef, step v1alpha1.StepStatus) (reason, message string) {
	switch {
	case step.Reason == v1alpha1.ReasonRunDeadlineExceeded:
		how := msgWasRunning
		if step.StartTime == nil {
			how = msgHadNotStarted
		}
		return v1alpha1.ReasonDeadlineExceeded, fmt.Sprintf(fmtDeadlineStopped, ref.describe(), how)
	case step.Reason == v1alpha1.ReasonWhenEvaluationFailed:
		return step.Reason, fmt.Sprintf(fmtWhenFailedStep, ref.describe(), step.Message)
	case ref.finally && step.Reason == v1alpha1.ReasonInvalidStep:
		return step.Reason, fmt.Sprintf(fmtInvalidFinally, ref.describe(), step.Message)
	case ref.finally:
		return v1alpha1.ReasonFinallyFailed, fmt.Sprintf(fmtFinallyFailed, ref.describe(), step.JobName, step.Reason)
	}
	return failureText(ref.index, step)
}

// failureText is the failed condition's reason and message for a failed
// step: the seed's "Job 1 failed: BackoffLimitExceeded" when its Job
// failed, or why it never got one.
func failureText(index int, step v1alpha1.StepStatus) (reason, message string) {
	switch step.Reason {
	case v1alpha1.ReasonInvalidStep:
		return step.Reason, fmt.Sprintf(fmtInvalidStep, index, step.Name, step.Message)
	case v1alpha1.ReasonJobRejected:
		return step.Reason, fmt.Sprintf(fmtJobRejected, index, step.Name, step.JobName, step.Message)
	case v1alpha1.ReasonStepLimitExceeded:
		return step.Reason, fmt.Sprintf(fmtCannotStart, index, step.Name, step.Message)
	case v1alpha1.ReasonWhenEvaluationFailed:
		return step.Reason, fmt.Sprintf(fmtWhenFailedStep, fmt.Sprintf(fmtStep, index, step.Name), step.Message)
	}
	return v1alpha1.ReasonJobFailed, FailureMessage(index, step.Reason)
}

// FailureMessage is the seed's failure message: "Job 1 failed: BackoffLimitExceeded".
func FailureMessage(index int, reason string) string {
	return fmt.Sprintf(fmtJobFailed, index, reason)
}
