package render

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// observedJobs sorts the observed Jobs, JobSet-style, before any decision:
// the ones this SequentialJob controls, by step index, and the ones that only
// carry one of our Job names.
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
		index, ok := ownedStepIndex(sj, job)
		if ok {
			out.owned[index] = job
			continue
		}
		out.foreign[job.Name] = job
	}
	return out
}

// ownedStepIndex is the step a Job belongs to, when sj controls it and its
// name is the one JobName gives for its index label.
func ownedStepIndex(sj *v1alpha1.SequentialJob, job *batchv1.Job) (int, bool) {
	ref := metav1.GetControllerOfNoCopy(job)
	if ref == nil || ref.UID != sj.UID {
		return 0, false
	}
	index, err := strconv.Atoi(job.Labels[LabelStepIndex])
	if err != nil || index < 0 || job.Name != JobName(sj.Name, index) {
		return 0, false
	}
	return index, true
}

// jobResult is what a Job says about its step. Only the terminal conditions
// Complete and Failed end a step: SuccessCriteriaMet and FailureTarget are
// set while pods may still be terminating.
type jobResult struct {
	phase   v1alpha1.Phase
	reason  string
	message string
	at      *metav1.Time
}

func resultOf(job *batchv1.Job) jobResult {
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
			return jobResult{phase: v1alpha1.PhaseSucceeded, reason: "Completed", message: c.Message, at: &at}
		case batchv1.JobFailed:
			at := c.LastTransitionTime
			return jobResult{phase: v1alpha1.PhaseFailed, reason: c.Reason, message: c.Message, at: &at}
		}
	}
	return jobResult{phase: v1alpha1.PhaseRunning}
}
