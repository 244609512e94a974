package render

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runRecord is the run's record as observed, before this reconcile decides
// anything: first the entries of the steps that started, in the order they
// started, each following its Job; then the steps of the current spec that
// never started, in spec order. A step is identified by its name, so an
// edit mid-run never runs a step twice or skips one.
type runRecord struct {
	steps []v1alpha1.StepStatus
	// started is how many entries, from the first, are steps that started.
	started int
	// finished is true when the observed status had already ended the run:
	// a finished run is final, and an edit starts nothing.
	finished bool
}

func newRecord(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time) runRecord {
	old := sj.Status
	if terminal(old.Phase) {
		// The record is frozen; only a step still running when the run
		// failed (an invalid edit mid-run) goes on following its Job.
		steps := make([]v1alpha1.StepStatus, len(old.Steps))
		for i, step := range old.Steps {
			steps[i] = step
			if step.Phase == v1alpha1.PhaseRunning {
				steps[i] = followJob(i, step, jobs.owned[i], now)
			}
		}
		return runRecord{steps: steps, started: len(steps), finished: true}
	}

	// A started step is known from status, or from its Job alone when the
	// controller crashed (or its status write failed) right after creating it.
	started := 0
	for i, step := range old.Steps {
		if step.Phase != v1alpha1.PhasePending {
			started = max(started, i+1)
		}
	}
	for index := range jobs.owned {
		started = max(started, index+1)
	}

	rec := runRecord{steps: make([]v1alpha1.StepStatus, 0, started+len(sj.Spec.Containers)), started: started}
	ran := map[string]bool{}
	for i := range started {
		step := followJob(i, oldEntry(old.Steps, i), jobs.owned[i], now)
		if step.Name == "" {
			step = lostStep(sj, i, now)
		}
		ran[step.Name] = true
		rec.steps = append(rec.steps, step)
	}
	for _, c := range sj.Spec.Containers {
		if ran[c.Name] {
			continue // never start a step twice
		}
		index := len(rec.steps)
		rec.steps = append(rec.steps, v1alpha1.StepStatus{Name: c.Name, JobName: JobName(sj.Name, index), Phase: v1alpha1.PhasePending})
	}
	return rec
}

// followJob is a started step's entry. A finished step keeps its recorded
// result even when its Job is gone (TTL, garbage collection, a person); a
// running step follows its Job; a running step whose Job is gone failed.
func followJob(index int, old v1alpha1.StepStatus, job *batchv1.Job, now metav1.Time) v1alpha1.StepStatus {
	if terminal(old.Phase) {
		return old
	}
	if job == nil {
		if old.Phase != v1alpha1.PhaseRunning {
			return v1alpha1.StepStatus{} // neither a record nor a Job: lost
		}
		r := jobDeleted(old.JobName, now)
		return v1alpha1.StepStatus{Name: old.Name, JobName: old.JobName, Phase: r.phase, StartTime: old.StartTime,
			CompletionTime: r.at, Reason: r.reason, Message: r.message}
	}
	r := resultOf(job, now)
	step := v1alpha1.StepStatus{Name: job.Labels[v1alpha1.LabelStepName], JobName: job.Name, Phase: r.phase,
		StartTime: startTime(old, job), CompletionTime: r.at, Reason: r.reason, Message: r.message}
	if r.phase == v1alpha1.PhaseRunning {
		step.Reason, step.Message = old.Reason, old.Message
		if step.Reason == "" {
			step.Reason = v1alpha1.ReasonJobCreated
		}
	}
	return step
}

// lostStep is an entry whose record and Job are both gone, which only
// someone removing the step-result finalizer by hand can cause. What ran
// there is unknown, so the run cannot claim it succeeded.
func lostStep(sj *v1alpha1.SequentialJob, index int, now metav1.Time) v1alpha1.StepStatus {
	name := JobName(sj.Name, index)
	return v1alpha1.StepStatus{Name: "", JobName: name, Phase: v1alpha1.PhaseFailed, CompletionTime: &now,
		Reason: v1alpha1.ReasonJobDeleted, Message: fmt.Sprintf("Job %s and the record of its step are gone", name)}
}

func oldEntry(steps []v1alpha1.StepStatus, i int) v1alpha1.StepStatus {
	if i < len(steps) {
		return steps[i]
	}
	return v1alpha1.StepStatus{}
}

// startTime prefers the recorded start (the moment the controller created the
// Job) so that status does not change when the Job is first observed.
func startTime(old v1alpha1.StepStatus, job *batchv1.Job) *metav1.Time {
	if old.StartTime != nil {
		return old.StartTime
	}
	created := job.CreationTimestamp
	return &created
}
