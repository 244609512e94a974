package render

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// runStatus is the whole status for the plan: phase, counts, progress and
// conditions, in the seed's shape.
func runStatus(sj *v1alpha1.SequentialJob, plan stepPlan, now metav1.Time) v1alpha1.SequentialJobStatus {
	old := sj.Status
	status := v1alpha1.SequentialJobStatus{
		ObservedGeneration: sj.Generation,
		Steps:              plan.steps,
		Finally:            plan.finally,
		Conditions:         cloneConditions(old.Conditions),
		Attempt:            max(old.Attempt, 1),
		RetryToken:         sj.Spec.RetryToken,
		ActiveStartTime:    plan.activeStart,
		SuspendTime:        plan.suspendTime,
		QueueTime:          plan.queueTime,
	}
	if plan.retried {
		status.Attempt++
	}
	if plan.finished {
		status.ActiveStartTime = old.ActiveStartTime
	}
	var last *metav1.Time
	for _, finally := range []bool{false, true} {
		for i, step := range plan.list(finally) {
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
			}
			if step.StartTime != nil && (status.StartTime == nil || step.StartTime.Before(status.StartTime)) {
				status.StartTime = step.StartTime
			}
			if step.CompletionTime != nil && (last == nil || last.Before(step.CompletionTime)) {
				last = step.CompletionTime
			}
		}
	}
	status.Progress.Summary = fmt.Sprintf("%d/%d", len(status.Progress.CompletedIndices), len(plan.steps))
	if plan.current != nil {
		status.Progress.CurrentIndex = int32(plan.current.index)
		status.Progress.CurrentStep = plan.current.name
		status.Progress.InFinally = plan.current.finally
	}

	switch {
	case plan.ended && plan.failed != nil:
		status.Phase = v1alpha1.PhaseFailed
		failed := plan.list(plan.failed.finally)[plan.failed.index]
		if !plan.failed.finally {
			index := int32(plan.failed.index)
			status.Progress.FailedIndex = &index
		}
		status.Progress.FailureReason = failed.Reason
		if failed.Reason == v1alpha1.ReasonRunDeadlineExceeded {
			status.Progress.FailureReason = v1alpha1.ReasonDeadlineExceeded
		}
		status.CompletionTime = failed.CompletionTime
		if anyStarted(plan.finally) {
			status.CompletionTime = last
		}
	case plan.ended:
		status.Phase = v1alpha1.PhaseSucceeded
		status.CompletionTime = last
	case plan.suspended:
		status.Phase = v1alpha1.PhaseSuspended
	case plan.current != nil && plan.list(plan.current.finally)[plan.current.index].Phase == v1alpha1.PhaseQueued:
		status.Phase = v1alpha1.PhaseQueued
	case status.State.Active > 0 || (plan.current != nil && plan.current.finally):
		status.Phase = v1alpha1.PhaseRunning
	default:
		status.Phase = v1alpha1.PhasePending
	}
	if plan.ended {
		status.SuspendTime, status.QueueTime = nil, nil
	}
	setConditions(&status, runConditions(plan, status), sj.Generation, now)
	return status
}

// outcome is one row of the conditions table: where the run stands, and
// which of the conditions hold.
type outcome struct {
	reason, message                                                 string
	failed, progressing, available, reconciling, stalled, suspended bool
	// failedMessage, when set, is the Failed condition's message instead
	// of message: the apiserver's error as it is, for a reconciliation error.
	failedMessage string
	// unavailable is the ResourcesUnavailable condition's reason and
	// message, for a step held back by something only the cluster knows.
	unavailable *Problem
}

// runConditions picks the plan's row. Failed, Progressing and Available are
// the seed's; Reconciling and Stalled are kstatus's.
func runConditions(plan stepPlan, status v1alpha1.SequentialJobStatus) outcome {
	switch {
	case plan.ended && plan.failed != nil:
		reason, msg := runFailureText(plan.failed, plan.list(plan.failed.finally)[plan.failed.index])
		return outcome{reason: reason, message: msg, failed: true, stalled: true}
	case plan.conflict != nil:
		msg := fmt.Sprintf("%s cannot start: Job %s exists and is not controlled by this SequentialJob; delete or rename that Job",
			plan.conflict.describe(), plan.conflict.job)
		return outcome{reason: v1alpha1.ReasonJobNameConflict, message: msg, stalled: true}
	case plan.problem != nil:
		p := plan.problem
		msg := fmt.Sprintf("%s is waiting: %s", plan.current.describe(), p.Message)
		// Reconciling, not Stalled: the controller retries on its own.
		o := outcome{reason: p.Reason, message: msg, reconciling: true}
		if p.ConditionType == v1alpha1.ConditionFailed {
			o.failed, o.failedMessage = true, p.Message
		} else {
			o.unavailable = p
		}
		return o
	case plan.ended:
		return succeededOutcome(plan)
	case plan.suspended:
		msg := "the run is suspended (spec.suspend) before its first step"
		if plan.current != nil {
			msg = fmt.Sprintf("the run is suspended (spec.suspend) at %s", plan.current.describe())
		}
		// Reconciling keeps kstatus from reading a suspended run as Current.
		return outcome{reason: v1alpha1.ReasonSuspended, message: msg, reconciling: true, suspended: true}
	case plan.current == nil:
		return outcome{reason: v1alpha1.ReasonStepRunning, message: "no step to run", progressing: true, reconciling: true}
	case status.Phase == v1alpha1.PhaseQueued:
		step := plan.list(plan.current.finally)[plan.current.index]
		msg := fmt.Sprintf("%s is queued: %s; %d of %d steps succeeded", plan.current.describe(), step.Message, len(status.Progress.CompletedIndices), len(plan.steps))
		return outcome{reason: v1alpha1.ReasonQueued, message: msg, progressing: true, reconciling: true}
	case plan.current.finally:
		msg := fmt.Sprintf("all %d steps ended; %s is running as Job %s", len(plan.steps), plan.current.describe(), plan.current.job)
		if f := firstFailed(plan.steps, false); f != nil {
			_, failure := runFailureText(f, plan.steps[f.index])
			msg = fmt.Sprintf("%s (%s); %s is running as Job %s", f.describe()+" failed", failure, plan.current.describe(), plan.current.job)
		}
		return outcome{reason: v1alpha1.ReasonFinallyRunning, message: msg, progressing: true, reconciling: true}
	default:
		msg := fmt.Sprintf("step %d (%s) is running as Job %s; %d of %d steps succeeded",
			plan.current.index, plan.current.name, plan.current.job, len(status.Progress.CompletedIndices), len(plan.steps))
		return outcome{reason: v1alpha1.ReasonStepRunning, message: msg, progressing: true, reconciling: true}
	}
}

// succeededOutcome is the row of a run that succeeded, naming the failures
// it allowed (onFailure: Continue).
func succeededOutcome(plan stepPlan) outcome {
	var allowed []string
	for _, finally := range []bool{false, true} {
		for _, step := range plan.list(finally) {
			if step.Phase == v1alpha1.PhaseFailed {
				allowed = append(allowed, step.Name)
			}
		}
	}
	if len(allowed) == 0 {
		return outcome{reason: v1alpha1.ReasonCompleted, message: fmt.Sprintf("all %d steps succeeded", len(plan.steps)), available: true}
	}
	msg := fmt.Sprintf("all %d steps ran; %d failed and %s allowed to (onFailure: Continue): %s",
		len(plan.steps)+len(plan.finally), len(allowed), map[bool]string{true: "was", false: "were"}[len(allowed) == 1], strings.Join(allowed, ", "))
	return outcome{reason: v1alpha1.ReasonCompletedWithFailures, message: msg, available: true}
}

// describe names an entry for messages: "step 1 (build)" or
// "finally step 0 (notify)".
func (r *stepRef) describe() string {
	if r.finally {
		return fmt.Sprintf("finally step %d (%s)", r.index, r.name)
	}
	return fmt.Sprintf("step %d (%s)", r.index, r.name)
}

// runFailureText is the Failed condition's reason and message for the
// entry that failed the run.
func runFailureText(ref *stepRef, step v1alpha1.StepStatus) (reason, message string) {
	switch {
	case step.Reason == v1alpha1.ReasonRunDeadlineExceeded:
		how := "was running; its Job was stopped"
		if step.StartTime == nil {
			how = "had not started"
		}
		return v1alpha1.ReasonDeadlineExceeded, fmt.Sprintf("the run deadline (spec.runDeadlineSeconds) passed: the run stopped at %s, which %s", ref.describe(), how)
	case ref.finally:
		return v1alpha1.ReasonFinallyFailed, fmt.Sprintf("%s failed: Job %s failed: %s", ref.describe(), step.JobName, step.Reason)
	}
	return failureText(ref.index, step)
}

// failureText is the failed condition's reason and message for a failed
// step: the seed's "Job 1 failed: BackoffLimitExceeded" when its Job
// failed, or why it never got one.
func failureText(index int, step v1alpha1.StepStatus) (reason, message string) {
	switch step.Reason {
	case v1alpha1.ReasonInvalidStep:
		return step.Reason, fmt.Sprintf("step %d (%s) is invalid, so the run stopped before it: %s", index, step.Name, step.Message)
	case v1alpha1.ReasonJobRejected:
		return step.Reason, fmt.Sprintf("step %d (%s) failed: the apiserver rejected its Job %s: %s", index, step.Name, step.JobName, step.Message)
	case v1alpha1.ReasonStepLimitExceeded:
		return step.Reason, fmt.Sprintf("step %d (%s) cannot start: %s", index, step.Name, step.Message)
	}
	return v1alpha1.ReasonJobFailed, FailureMessage(index, step.Reason)
}

// FailureMessage is the seed's failure message: "Job 1 failed: BackoffLimitExceeded".
func FailureMessage(index int, reason string) string {
	return fmt.Sprintf("Job %d failed: %s", index, reason)
}

// presentOnlyWhileTrue are the conditions that tools read as "abnormal-true"
// (kstatus's Reconciling and Stalled) or that only explain a wait.
var presentOnlyWhileTrue = map[string]bool{
	v1alpha1.ConditionReconciling:          true,
	v1alpha1.ConditionStalled:              true,
	v1alpha1.ConditionResourcesUnavailable: true,
	v1alpha1.ConditionSuspended:            true,
	v1alpha1.ConditionComplete:             true,
}

// setConditions writes the row with meta.SetStatusCondition, which keeps
// lastTransitionTime while a condition's status holds.
func setConditions(status *v1alpha1.SequentialJobStatus, o outcome, generation int64, now metav1.Time) {
	failedReason, failedMessage := v1alpha1.ReasonNoFailure, ""
	if o.failed {
		failedReason, failedMessage = o.reason, o.message
		if o.failedMessage != "" {
			failedMessage = o.failedMessage
		}
	}
	conditions := []metav1.Condition{
		cond(v1alpha1.ConditionFailed, o.failed, failedReason, failedMessage),
		cond(v1alpha1.ConditionProgressing, o.progressing, o.reason, o.message),
		cond(v1alpha1.ConditionAvailable, o.available, o.reason, o.message),
		cond(v1alpha1.ConditionReconciling, o.reconciling, o.reason, o.message),
		cond(v1alpha1.ConditionStalled, o.stalled, o.reason, o.message),
		cond(v1alpha1.ConditionResourcesUnavailable, o.unavailable != nil, "", ""),
		cond(v1alpha1.ConditionSuspended, o.suspended, o.reason, o.message),
		// Complete is Available for Job users: the run succeeded.
		cond(v1alpha1.ConditionComplete, o.available, o.reason, o.message),
	}
	if o.unavailable != nil {
		conditions[5].Reason, conditions[5].Message = o.unavailable.Reason, o.unavailable.Message
	}
	for _, c := range conditions {
		if c.Status == metav1.ConditionFalse && presentOnlyWhileTrue[c.Type] {
			meta.RemoveStatusCondition(&status.Conditions, c.Type)
			continue
		}
		c.ObservedGeneration = generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&status.Conditions, c)
	}
}

func cond(t string, ok bool, reason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg}
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
