package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// Condition reasons.
const (
	ReasonStepRunning     = "StepRunning"
	ReasonCompleted       = "Completed"
	ReasonJobFailed       = "JobFailed"
	ReasonNoFailure       = "NoFailure"
	ReasonJobNameConflict = "JobNameConflict"
	// ReasonReconciliationError is the Failed condition's reason while the
	// controller cannot act for an unexpected error (the seed's).
	ReasonReconciliationError = "ReconciliationError"
)

// ConditionResourcesUnavailable is the seed's runtime-validation condition:
// something only the cluster knows keeps the next step from starting.
// Present only while True.
const ConditionResourcesUnavailable = "ResourcesUnavailable"

// presentOnlyWhileTrue are the conditions that tools read as "abnormal-true"
// (kstatus's Reconciling and Stalled) or that only explain a wait.
var presentOnlyWhileTrue = map[string]bool{
	v1alpha1.ConditionReconciling: true,
	v1alpha1.ConditionStalled:     true,
	ConditionResourcesUnavailable: true,
}

// runStatus is the whole status for the plan: phase, counts, progress and
// conditions, in the seed's shape.
func runStatus(sj *v1alpha1.SequentialJob, plan stepPlan, now metav1.Time) v1alpha1.SequentialJobStatus {
	status := v1alpha1.SequentialJobStatus{
		ObservedGeneration: sj.Generation,
		Steps:              plan.steps,
		Conditions:         cloneConditions(sj.Status.Conditions),
	}
	total := len(plan.steps)
	for i, step := range plan.steps {
		switch step.Phase {
		case v1alpha1.PhaseRunning:
			status.State.Active++
		case v1alpha1.PhaseSucceeded:
			status.State.Succeeded++
			status.Progress.CompletedIndices = append(status.Progress.CompletedIndices, int32(i))
		case v1alpha1.PhaseFailed:
			status.State.Failed++
		}
		if step.StartTime != nil && (status.StartTime == nil || step.StartTime.Before(status.StartTime)) {
			status.StartTime = step.StartTime
		}
	}
	status.Progress.Summary = fmt.Sprintf("%d/%d", status.State.Succeeded, total)
	if plan.current != nil {
		status.Progress.CurrentIndex = int32(plan.current.index)
		status.Progress.CurrentStep = plan.current.name
	}

	conditions := runConditions(plan, total)
	switch {
	case plan.failed != nil:
		status.Phase = v1alpha1.PhaseFailed
		index := int32(plan.failed.index)
		status.Progress.FailedIndex = &index
		status.Progress.FailureReason = plan.steps[plan.failed.index].Reason
		status.CompletionTime = plan.steps[plan.failed.index].CompletionTime
	case total > 0 && int(status.State.Succeeded) == total:
		status.Phase = v1alpha1.PhaseSucceeded
		status.CompletionTime = plan.steps[total-1].CompletionTime
	case status.State.Active > 0:
		status.Phase = v1alpha1.PhaseRunning
	default:
		status.Phase = v1alpha1.PhasePending
	}

	for _, c := range conditions {
		if c.Status == metav1.ConditionFalse && presentOnlyWhileTrue[c.Type] {
			meta.RemoveStatusCondition(&status.Conditions, c.Type)
			continue
		}
		c.ObservedGeneration = sj.Generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&status.Conditions, c)
	}
	return status
}

// runConditions are the conditions for the plan. Failed, Progressing and
// Available are the seed's; Reconciling and Stalled are kstatus's.
func runConditions(plan stepPlan, total int) []metav1.Condition {
	cond := func(t string, ok bool, reason, msg string) metav1.Condition {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		return metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg}
	}
	notUnavailable := cond(ConditionResourcesUnavailable, false, "", "")
	switch {
	case plan.failed != nil:
		step := plan.steps[plan.failed.index]
		msg := FailureMessage(plan.failed.index, step.Reason)
		return []metav1.Condition{
			cond(v1alpha1.ConditionFailed, true, ReasonJobFailed, msg),
			cond(v1alpha1.ConditionProgressing, false, ReasonJobFailed, msg),
			cond(v1alpha1.ConditionAvailable, false, ReasonJobFailed, msg),
			cond(v1alpha1.ConditionReconciling, false, ReasonJobFailed, ""),
			cond(v1alpha1.ConditionStalled, true, ReasonJobFailed, msg),
			notUnavailable,
		}
	case plan.conflict != nil:
		msg := fmt.Sprintf("step %d (%s) cannot start: Job %s exists and is not controlled by this SequentialJob; delete or rename that Job",
			plan.conflict.index, plan.conflict.name, plan.conflict.job)
		return []metav1.Condition{
			cond(v1alpha1.ConditionFailed, false, ReasonNoFailure, ""),
			cond(v1alpha1.ConditionProgressing, false, ReasonJobNameConflict, msg),
			cond(v1alpha1.ConditionAvailable, false, ReasonJobNameConflict, msg),
			cond(v1alpha1.ConditionReconciling, false, ReasonJobNameConflict, ""),
			cond(v1alpha1.ConditionStalled, true, ReasonJobNameConflict, msg),
			notUnavailable,
		}
	case plan.problem != nil:
		p := plan.problem
		msg := fmt.Sprintf("step %d (%s) is waiting: %s", plan.current.index, plan.current.name, p.Message)
		out := []metav1.Condition{
			cond(v1alpha1.ConditionProgressing, false, p.Reason, msg),
			cond(v1alpha1.ConditionAvailable, false, p.Reason, msg),
			// Reconciling, not Stalled: the controller retries on its own.
			cond(v1alpha1.ConditionReconciling, true, p.Reason, msg),
			cond(v1alpha1.ConditionStalled, false, p.Reason, ""),
		}
		if p.ConditionType == v1alpha1.ConditionFailed {
			return append(out, cond(v1alpha1.ConditionFailed, true, p.Reason, p.Message), notUnavailable)
		}
		return append(out, cond(v1alpha1.ConditionFailed, false, ReasonNoFailure, ""), cond(ConditionResourcesUnavailable, true, p.Reason, p.Message))
	case plan.current == nil || countPhase(plan, v1alpha1.PhaseSucceeded) == total:
		msg := fmt.Sprintf("all %d steps succeeded", total)
		return []metav1.Condition{
			cond(v1alpha1.ConditionFailed, false, ReasonNoFailure, ""),
			cond(v1alpha1.ConditionProgressing, false, ReasonCompleted, msg),
			cond(v1alpha1.ConditionAvailable, true, ReasonCompleted, msg),
			cond(v1alpha1.ConditionReconciling, false, ReasonCompleted, ""),
			cond(v1alpha1.ConditionStalled, false, ReasonCompleted, ""),
			notUnavailable,
		}
	default:
		msg := fmt.Sprintf("step %d (%s) is running as Job %s; %d of %d steps succeeded", plan.current.index, plan.current.name, plan.current.job, countPhase(plan, v1alpha1.PhaseSucceeded), total)
		return []metav1.Condition{
			cond(v1alpha1.ConditionFailed, false, ReasonNoFailure, ""),
			cond(v1alpha1.ConditionProgressing, true, ReasonStepRunning, msg),
			cond(v1alpha1.ConditionAvailable, false, ReasonStepRunning, msg),
			cond(v1alpha1.ConditionReconciling, true, ReasonStepRunning, msg),
			cond(v1alpha1.ConditionStalled, false, ReasonStepRunning, ""),
			notUnavailable,
		}
	}
}

// FailureMessage is the seed's failure message: "Job 1 failed: BackoffLimitExceeded".
func FailureMessage(index int, reason string) string {
	return fmt.Sprintf("Job %d failed: %s", index, reason)
}

func countPhase(plan stepPlan, phase v1alpha1.Phase) int {
	n := 0
	for _, s := range plan.steps {
		if s.Phase == phase {
			n++
		}
	}
	return n
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
