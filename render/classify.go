package render

import (
	"fmt"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// observedJobs sorts the observed Jobs, JobSet-style, before any decision:
// the ones this SequentialJob controls, by the entry of status.steps or
// status.finally they belong to, and the ones that only carry one of our
// Job names.
type observedJobs struct {
	// steps and finally hold, per entry, the Job of its latest attempt.
	steps, finally map[int]ownedJob
	// all are every Job this SequentialJob controls, any attempt.
	all     []*batchv1.Job
	foreign map[string]*batchv1.Job // by name
	// pods are the observed pods, by the name of their Job.
	pods map[string][]*corev1.Pod
}

type ownedJob struct {
	job     *batchv1.Job
	attempt int32
}

func (o observedJobs) list(finally bool) map[int]ownedJob {
	if finally {
		return o.finally
	}
	return o.steps
}

func classify(sj *v1alpha1.SequentialJob, jobs []batchv1.Job, pods []corev1.Pod) observedJobs {
	out := observedJobs{steps: map[int]ownedJob{}, finally: map[int]ownedJob{}, foreign: map[string]*batchv1.Job{}}
	for i := range jobs {
		job := &jobs[i]
		if job.Namespace != sj.Namespace {
			continue
		}
		ref, ok := ownedSlot(sj, job)
		if !ok {
			out.foreign[job.Name] = job
			continue
		}
		out.all = append(out.all, job)
		entries := out.list(ref.finally)
		if prev, seen := entries[ref.index]; !seen || prev.attempt < ref.attempt {
			entries[ref.index] = ownedJob{job: job, attempt: ref.attempt}
		}
	}
	for i := range pods {
		pod := &pods[i]
		if pod.Namespace != sj.Namespace {
			continue
		}
		if name := pod.Labels[batchv1.JobNameLabel]; name != "" {
			if out.pods == nil {
				out.pods = map[string][]*corev1.Pod{}
			}
			out.pods[name] = append(out.pods[name], pod)
		}
	}
	return out
}

// ownedSlot is the entry and attempt a Job belongs to, when sj controls it,
// it names its step, and its name is the one StepJobName gives them.
func ownedSlot(sj *v1alpha1.SequentialJob, job *batchv1.Job) (slot, bool) {
	ref := metav1.GetControllerOfNoCopy(job)
	if ref == nil || ref.UID != sj.UID || job.Labels[v1alpha1.LabelStepName] == "" {
		return slot{}, false
	}
	index, err := strconv.Atoi(job.Labels[v1alpha1.LabelStepIndex])
	if err != nil || index < 0 || index >= v1alpha1.MaxStartedSteps {
		return slot{}, false
	}
	s := slot{finally: job.Labels[v1alpha1.LabelFinally] == "true", index: index, attempt: 1}
	if raw, ok := job.Labels[v1alpha1.LabelStepAttempt]; ok {
		attempt, err := strconv.ParseInt(raw, 10, 32)
		if err != nil || attempt < 2 {
			return slot{}, false
		}
		s.attempt = int32(attempt)
	}
	if job.Name != s.jobName(sj.Name) {
		return slot{}, false
	}
	return s, true
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
		message: fmt.Sprintf(fmtJobDeleted, jobName), at: &now}
}

// releasable are the owned Jobs that still hold the step-result finalizer
// although status records how their attempt ended.
func releasable(jobs observedJobs, status v1alpha1.SequentialJobStatus) []string {
	recorded := map[string]bool{}
	for _, entries := range [][]v1alpha1.StepStatus{status.Steps, status.Finally} {
		for _, step := range entries {
			if step.Phase.Terminal() {
				recorded[step.JobName] = true
			}
			for _, attempt := range step.PreviousAttempts {
				recorded[attempt.JobName] = true
			}
		}
	}
	var out []string
	for _, job := range jobs.all {
		if slices.Contains(job.Finalizers, v1alpha1.FinalizerStepResult) && recorded[job.Name] {
			out = append(out, job.Name)
		}
	}
	slices.Sort(out)
	return out
}
