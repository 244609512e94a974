package render

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// enqueue makes a step that starts now in a run with a LocalQueue wait for
// admission: its Job is created suspended (job.go), and the run's active
// clock stands still with it.
func (d *decision) enqueue(sj *v1alpha1.SequentialJob, step *v1alpha1.StepStatus, finally bool, now metav1.Time) {
	queue := sj.Labels[v1alpha1.LabelQueueName]
	if queue == "" {
		return
	}
	step.Phase, step.Reason = v1alpha1.PhaseQueued, v1alpha1.ReasonQueued
	step.Message = queuedMessage(step.JobName, queue)
	if d.clock.queueTime == nil && !finally {
		d.clock.queueTime = &now
	}
}

func queuedMessage(job, queue string) string { return fmt.Sprintf(fmtQueued, job, queue) }

// waitingInQueue is the LocalQueue a step's Job waits in: a Job in a queue
// that is suspended has not been admitted (Kueue unsuspends it then).
func waitingInQueue(job *batchv1.Job) string {
	queue := job.Labels[v1alpha1.LabelQueueName]
	if queue == "" || !JobSuspended(job) {
		return ""
	}
	return queue
}
