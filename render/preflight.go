package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
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
}

// Preflight says what to check for obs. It makes the same decision Render
// does, on the same record, without the results of the checks.
func Preflight(obs Observed) Checks {
	sj := obs.SequentialJob
	jobs := classify(sj, obs.Jobs)
	rec := newRecord(sj, jobs, metav1.Time{})
	var checks Checks
	if !rec.finished && sj.Generation != sj.Status.ObservedGeneration {
		for index := rec.started; index < len(rec.steps); index++ {
			checks.Validate = append(checks.Validate, desiredJob(sj, containerNamed(sj, rec.steps[index].Name), index))
		}
	}
	plan := decide(Observed{SequentialJob: sj, Jobs: obs.Jobs}, jobs, rec, metav1.Time{})
	if plan.next != nil {
		checks.Next = desiredJob(sj, plan.next.container, plan.next.index)
	}
	return checks
}
