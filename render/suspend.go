package render

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// suspendRequested is spec.suspend: no new step starts, and the running
// step's Job is suspended with the run.
func suspendRequested(sj *v1alpha1.SequentialJob) bool { return ptr.Deref(sj.Spec.Suspend, false) }

// JobSuspended is a Job's spec.suspend.
func JobSuspended(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) }

// follow keeps a running step's Job in line with spec.suspend: suspended
// with the run (its pods are deleted) and resumed with it (they start
// again).
func (d *decision) follow(jobs observedJobs, finally bool, index int, suspended bool) {
	step := &d.list(finally)[index]
	owned := jobOf(jobs, finally, index, *step)
	if owned != nil && owned.job.Labels[v1alpha1.LabelQueueName] != "" {
		d.followQueued(step, owned.job.Labels[v1alpha1.LabelQueueName], suspended)
		return
	}
	if suspended {
		step.Reason = v1alpha1.ReasonSuspended
		step.Message = fmt.Sprintf(fmtStepSuspended, step.JobName)
	} else if step.Reason == v1alpha1.ReasonSuspended {
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
	}
	if owned != nil && JobSuspended(owned.job) != suspended {
		d.controls = append(d.controls, jobControl{job: step.JobName, suspend: ptr.To(suspended)})
	}
}

// followQueued is follow for a Job in a Kueue queue. Its spec.suspend is
// Kueue's: it unsuspends the Job on admission, and would undo a suspension
// of an admitted Job. A suspended run holds its next steps; the running one
// is Kueue's to stop (docs/kueue.md), and its entry says so rather than
// claim its pods were deleted. A step still waiting for admission keeps
// saying it is queued.
func (d *decision) followQueued(step *v1alpha1.StepStatus, queue string, suspended bool) {
	switch {
	case step.Phase == v1alpha1.PhaseQueued:
		step.Reason, step.Message = v1alpha1.ReasonQueued, queuedMessage(step.JobName, queue)
	case suspended:
		step.Reason, step.Message = v1alpha1.ReasonSuspended, fmt.Sprintf(fmtQueuedStepSuspended, step.JobName, queue)
	case step.Reason == v1alpha1.ReasonSuspended:
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
	}
}
