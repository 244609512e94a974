package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// stepPlan is the decision of one reconcile, over the run's record.
type stepPlan struct {
	steps []v1alpha1.StepStatus

	// next is the step whose Job should be created now, if any.
	next *nextStep
	// conflict is the step that should start now but whose Job name is
	// taken by a Job we do not control.
	conflict *stepRef
	// failed is the first failed step, if any; nothing starts after it.
	failed *stepRef
	// current is the step running now, the one that failed, the one that
	// starts next, or the last one that ran.
	current *stepRef
	// problem, when set, held back the step that should start now.
	problem *Problem
	// finished is true when the run had ended before this reconcile.
	finished bool
}

type stepRef struct {
	index int
	name  string
	job   string
}

type nextStep struct {
	index     int
	container corev1.Container
}

// decide says what the run does now: nothing new after a failure or while
// a step runs; otherwise the first step of the current spec that never
// started starts, unless the cluster holds it back.
func decide(obs Observed, jobs observedJobs, rec runRecord, now metav1.Time) stepPlan {
	plan := stepPlan{steps: rec.steps, finished: rec.finished}
	if !rec.finished {
		rejectSteps(plan.steps[rec.started:], obs.Rejected, now)
	}
	running := -1
	for i, step := range plan.steps {
		switch {
		case step.Phase == v1alpha1.PhaseFailed && plan.failed == nil:
			plan.failed = plan.ref(i)
		case step.Phase == v1alpha1.PhaseRunning && running < 0:
			running = i
		}
	}
	switch {
	case plan.failed != nil:
		plan.current = plan.failed
	case running >= 0:
		plan.current = plan.ref(running)
	case rec.finished || rec.started == len(plan.steps):
		if len(plan.steps) > 0 {
			plan.current = plan.ref(rec.started - 1)
		}
	default:
		plan.start(obs, jobs, rec.started, now)
	}
	return plan
}

// rejectSteps fails the steps the apiserver refused as invalid: they would
// be refused again, so the run ends now rather than retrying forever.
func rejectSteps(pending []v1alpha1.StepStatus, rejected map[string]Rejection, now metav1.Time) {
	for i := range pending {
		if r, ok := rejected[pending[i].Name]; ok {
			pending[i].Phase, pending[i].Reason, pending[i].Message = v1alpha1.PhaseFailed, r.Reason, r.Message
			pending[i].CompletionTime = &now
		}
	}
}

// start starts the step at index, the first that never started, unless
// something holds it back.
func (plan *stepPlan) start(obs Observed, jobs observedJobs, index int, now metav1.Time) {
	sj := obs.SequentialJob
	step := &plan.steps[index]
	plan.current = plan.ref(index)
	switch {
	case index >= v1alpha1.MaxStartedSteps:
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonStepLimitExceeded, &now
		step.Message = fmt.Sprintf("the run has started %d steps, the most one run may start; edits added more", v1alpha1.MaxStartedSteps)
		plan.failed = plan.current
	case jobs.foreign[step.JobName] != nil:
		plan.conflict = plan.current
		step.Reason = v1alpha1.ReasonJobNameConflict
		step.Message = fmt.Sprintf("Job %s exists and is not controlled by this SequentialJob", step.JobName)
	case obs.Problem != nil:
		plan.problem = obs.Problem
		step.Reason, step.Message = obs.Problem.Reason, obs.Problem.Message
	default:
		plan.next = &nextStep{index: index, container: containerNamed(sj, step.Name)}
		step.Phase = v1alpha1.PhaseRunning
		step.StartTime = &now
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
	}
}

func (plan *stepPlan) ref(i int) *stepRef {
	s := plan.steps[i]
	return &stepRef{index: i, name: s.Name, job: s.JobName}
}

// containerNamed is the current spec's container for a pending step: only
// those are ever pending, so it always exists.
func containerNamed(sj *v1alpha1.SequentialJob, name string) corev1.Container {
	for _, c := range sj.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{Name: name}
}
