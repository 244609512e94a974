package render

import (
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// observedJobs sorts the observed Jobs, JobSet-style, before any decision:
// the ones this SequentialJob controls, by the index of their status.steps
// entry, and the ones that only carry one of our Job names.
type observedJobs struct {
	owned   map[int]*batchv1.Job
	foreign map[string]*batchv1.Job // by name
}

func classify(sj *v1alpha1.SequentialJob, jobs []batchv1.Job) observedJobs {
	out := observedJobs{owned: map[int]*batchv1.Job{}, foreign: map[string]*batchv1.Job{}}
	for i := range jobs {
		job := &jobs[i]
		if job.Namespace != sj.Namespace {
			continue
		}
		if index, ok := ownedStepIndex(sj, job); ok {
			out.owned[index] = job
			continue
		}
		out.foreign[job.Name] = job
	}
	return out
}

// ownedStepIndex is the status.steps entry a Job belongs to, when sj controls
// it, it names its step, and its name is the one JobName gives its index.
func ownedStepIndex(sj *v1alpha1.SequentialJob, job *batchv1.Job) (int, bool) {
	ref := metav1.GetControllerOfNoCopy(job)
	if ref == nil || ref.UID != sj.UID || job.Labels[v1alpha1.LabelStepName] == "" {
		return 0, false
	}
	index, err := strconv.Atoi(job.Labels[v1alpha1.LabelStepIndex])
	if err != nil || index < 0 || index >= v1alpha1.MaxStartedSteps || job.Name != JobName(sj.Name, index) {
		return 0, false
	}
	return index, true
}

// jobResult is what a Job says about its step. Only the terminal conditions
// Complete and Failed end a step: SuccessCriteriaMet and FailureTarget are
// set while pods may still be terminating. A Job being deleted before it
// reached either ends its step too: its pods go with it.
type jobResult struct {
	phase   v1alpha1.Phase
	reason  string
	message string
	at      *metav1.Time
}

func resultOf(job *batchv1.Job, now metav1.Time) jobResult {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			at := c.LastTransitionTime
			if job.Status.CompletionTime != nil {
				at = *job.Status.CompletionTime
			}
			return jobResult{phase: v1alpha1.PhaseSucceeded, reason: v1alpha1.ReasonCompleted, message: c.Message, at: &at}
		case batchv1.JobFailed:
			at := c.LastTransitionTime
			return jobResult{phase: v1alpha1.PhaseFailed, reason: c.Reason, message: c.Message, at: &at}
		}
	}
	if job.DeletionTimestamp != nil {
		return jobDeleted(job.Name, now)
	}
	return jobResult{phase: v1alpha1.PhaseRunning}
}

func jobDeleted(jobName string, now metav1.Time) jobResult {
	return jobResult{phase: v1alpha1.PhaseFailed, reason: v1alpha1.ReasonJobDeleted,
		message: "Job " + jobName + " was deleted before it finished", at: &now}
}

// releasable are the owned Jobs that still hold the step-result finalizer
// although status records how their step ended.
func releasable(jobs observedJobs, status v1alpha1.SequentialJobStatus) []string {
	var out []string
	for index, job := range jobs.owned {
		if !slices.Contains(job.Finalizers, v1alpha1.FinalizerStepResult) || index >= len(status.Steps) {
			continue
		}
		if step := status.Steps[index]; step.JobName == job.Name && terminal(step.Phase) {
			out = append(out, job.Name)
		}
	}
	slices.Sort(out)
	return out
}

func terminal(p v1alpha1.Phase) bool {
	return p == v1alpha1.PhaseSucceeded || p == v1alpha1.PhaseFailed
}
