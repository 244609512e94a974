package render

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// ReasonJobDeleted ends a started step whose Job disappeared before it
// reached Complete or Failed. The step is not run again: never run a step
// twice unless the user asks for it.
const ReasonJobDeleted = "JobDeleted"

// stepPlan is the decision for every step of one reconcile.
type stepPlan struct {
	steps []v1alpha1.StepStatus

	// next is the step whose Job should be created now, if any.
	next *stepRef
	// conflict is the step that should start now but whose Job name is
	// taken by a Job we do not control.
	conflict *stepRef
	// failed is the first failed step, if any; the run stops there.
	failed *stepRef
	// current is the step running now, or the last one that ran.
	current *stepRef
	// problem, when set, held back the step that should start now.
	problem *Problem

	endsStepForMissingJob bool
}

type stepRef struct {
	index int
	name  string
	job   string
}

// planSteps records every step, then decides what starts next: the first
// step that has not succeeded starts once all before it have, and nothing
// starts after a failure.
func planSteps(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time, problem *Problem) stepPlan {
	var plan stepPlan
	total := stepCount(sj, jobs)
	plan.steps = make([]v1alpha1.StepStatus, total)
	for i := range plan.steps {
		var endsForMissingJob bool
		plan.steps[i], endsForMissingJob = recordStep(sj, i, jobs.owned[i], now)
		plan.endsStepForMissingJob = plan.endsStepForMissingJob || endsForMissingJob
	}

	for i := range plan.steps {
		step := &plan.steps[i]
		ref := &stepRef{index: i, name: step.Name, job: step.JobName}
		switch step.Phase {
		case v1alpha1.PhaseSucceeded:
			plan.current = ref
			continue
		case v1alpha1.PhaseFailed:
			plan.failed, plan.current = ref, ref
		case v1alpha1.PhaseRunning:
			plan.current = ref
		case v1alpha1.PhasePending:
			plan.current = ref
			if foreign := jobs.foreign[step.JobName]; foreign != nil {
				plan.conflict = ref
				step.Reason = "JobNameConflict"
				step.Message = fmt.Sprintf("Job %s exists and is not controlled by this SequentialJob", step.JobName)
				break
			}
			if i >= len(sj.Spec.Containers) {
				break // only a step of the current spec can start
			}
			if problem != nil {
				plan.problem = problem
				step.Reason, step.Message = problem.Reason, problem.Message
				break
			}
			plan.next = ref
			step.Phase = v1alpha1.PhaseRunning
			step.StartTime = &now
			step.Reason, step.Message = "JobCreated", ""
		}
		break
	}
	return plan
}

// stepCount is the number of steps the status tracks: the spec's, plus any
// step that already started under an older, longer spec, so that no started
// step's record is lost.
func stepCount(sj *v1alpha1.SequentialJob, jobs observedJobs) int {
	total := len(sj.Spec.Containers)
	for i, step := range sj.Status.Steps {
		if step.Phase != v1alpha1.PhasePending && i >= total {
			total = i + 1
		}
	}
	for i := range jobs.owned {
		if i >= total {
			total = i + 1
		}
	}
	return total
}

// recordStep is step i's record. A finished step keeps its recorded result
// even when its Job is gone (TTL, garbage collection, a person); a started
// step follows its Job; a step whose Job vanished before finishing fails.
func recordStep(sj *v1alpha1.SequentialJob, i int, job *batchv1.Job, now metav1.Time) (v1alpha1.StepStatus, bool) {
	old := oldStep(sj, i)
	if old.Phase == v1alpha1.PhaseSucceeded || old.Phase == v1alpha1.PhaseFailed {
		return old, false
	}

	step := v1alpha1.StepStatus{Name: stepName(sj, i, old, job), JobName: JobName(sj.Name, i), Phase: v1alpha1.PhasePending}
	switch {
	case job != nil:
		result := resultOf(job)
		step.Phase, step.Reason, step.Message = result.phase, result.reason, result.message
		step.StartTime = startTime(old, job)
		step.CompletionTime = result.at
		if result.phase == v1alpha1.PhaseRunning {
			step.Reason = old.Reason
		}
		return step, false
	case old.Phase == v1alpha1.PhaseRunning:
		step.Phase = v1alpha1.PhaseFailed
		step.StartTime = old.StartTime
		step.CompletionTime = &now
		step.Reason = ReasonJobDeleted
		step.Message = fmt.Sprintf("Job %s was deleted before it finished", step.JobName)
		return step, true
	}
	return step, false
}

func oldStep(sj *v1alpha1.SequentialJob, i int) v1alpha1.StepStatus {
	if i < len(sj.Status.Steps) {
		return sj.Status.Steps[i]
	}
	return v1alpha1.StepStatus{}
}

// stepName is the name of the container that ran (or will run) as step i:
// a started step keeps the name it started with, whatever the spec says now.
func stepName(sj *v1alpha1.SequentialJob, i int, old v1alpha1.StepStatus, job *batchv1.Job) string {
	switch {
	case job != nil && job.Labels[LabelStepName] != "":
		return job.Labels[LabelStepName]
	case old.Phase == v1alpha1.PhaseRunning && old.Name != "":
		return old.Name
	case i < len(sj.Spec.Containers):
		return sj.Spec.Containers[i].Name
	}
	return old.Name
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
