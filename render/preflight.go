package render

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Checks are what the reconciler asks the cluster before it renders: what
// admission and the CRD cannot know, found with the apiserver's help.
type Checks struct {
	// Validate are the Jobs of the steps that never started, exactly as
	// they would be created, for a server-side dry-run. It is due before the
	// first step starts and after every spec change while the run is
	// active, so an invalid step fails the run before anything runs.
	Validate []*batchv1ac.JobApplyConfiguration
	// Next is the Job that starts now unless the cluster holds it back. The
	// reconciler checks its name is free of Jobs we do not own and that its
	// ServiceAccount exists.
	Next *batchv1ac.JobApplyConfiguration
	// PodsOf are the Jobs whose step ends now: their pods tell the step's
	// result and what ended it, so the reconciler reads them (Observed.Pods).
	PodsOf []string
}

// Preflight says what to check for obs. It makes the same decision Render
// does, on the same record, without the results of the checks.
func Preflight(obs Observed) Checks {
	sj := obs.SequentialJob
	jobs := classify(sj, obs.Jobs, nil)
	rec := newRecord(sj, jobs, metav1.Time{})
	var checks Checks
	checks.PodsOf = endingJobs(sj.Status, jobs)
	if !rec.finished && sj.Generation != sj.Status.ObservedGeneration {
		for _, s := range []section{rec.steps, rec.finally} {
			for index, step := range s.entries {
				if step.Phase != v1alpha1.PhasePending {
					continue
				}
				ref := slot{finally: s.finally, index: index, attempt: attemptOf(step)}
				results := resultsBefore(rec.steps.entries, rec.finally.entries, ref)
				checks.Validate = append(checks.Validate, desiredJob(sj, nextStep{ref: ref, container: containerNamed(sj, s.finally, step.Name)}, results))
			}
		}
	}
	plan := decide(Observed{SequentialJob: sj, Jobs: obs.Jobs}, jobs, rec, metav1.Time{})
	if plan.next != nil {
		checks.Next = desiredJob(sj, *plan.next, resultsBefore(plan.steps, plan.finally, plan.next.ref))
	}
	return checks
}

// endingJobs are the owned Jobs that reached Complete or Failed while status
// does not record their step's end yet.
func endingJobs(status v1alpha1.SequentialJobStatus, jobs observedJobs) []string {
	recorded := map[string]bool{}
	for _, entries := range [][]v1alpha1.StepStatus{status.Steps, status.Finally} {
		for _, step := range entries {
			if terminal(step.Phase) {
				recorded[step.JobName] = true
			}
		}
	}
	var out []string
	for _, job := range jobs.all {
		if !recorded[job.Name] && job.DeletionTimestamp == nil && podsHere(job) && terminal(resultOf(job, metav1.Time{}).phase) {
			out = append(out, job.Name)
		}
	}
	slices.Sort(out)
	return out
}
