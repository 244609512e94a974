package render

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// stepPlan is the decision of one reconcile, over the run's record.
type stepPlan struct {
	steps, finally []v1alpha1.StepStatus

	// next is the step whose Job should be created now, if any.
	next *nextStep
	// conflict is the step that should start now but whose Job name is
	// taken by a Job we do not control.
	conflict *stepRef
	// failed is the entry that fails the run: the first step that failed
	// it, else the first finally step that did. Nothing starts after a
	// failed step but the finally steps.
	failed *stepRef
	// current is the step running now, the one that failed, the one that
	// starts next, or the last one that ran.
	current *stepRef
	// problem, when set, held back the step that should start now.
	problem *Problem
	// finished is true when the run had ended before this reconcile.
	finished bool
	// retried is true when a retry re-opened the run in this reconcile.
	retried bool
	// suspended is true while spec.suspend holds the unfinished run.
	suspended bool
	// ended is true when the run ends in this reconcile or had ended.
	ended bool
	// controls are changes to running steps' Jobs: suspend, resume, stop.
	controls []jobControl
	// activeStart, suspendTime and queueTime are the run's active-time
	// clock (see SequentialJobStatus.ActiveStartTime).
	activeStart, suspendTime, queueTime *metav1.Time
	// deadline is when spec.runDeadlineSeconds passes, while it can.
	deadline *time.Time
}

type stepRef struct {
	finally bool
	index   int
	name    string
	job     string
}

type nextStep struct {
	ref       slot
	container corev1.Container
}

// jobControl changes a running step's Job: suspend or resume it, or stop
// it because the run deadline passed.
type jobControl struct {
	job     string
	suspend *bool
	stop    bool
}

// decide says what the run does now. The steps run one after another: a
// failed step (unless onFailure: Continue) or the run deadline ends them.
// Then the finally steps run, each once, whatever happened. Nothing new
// starts while a step runs, while the run is suspended, or once it ended.
func decide(obs Observed, jobs observedJobs, rec runRecord, now metav1.Time) stepPlan {
	sj := obs.SequentialJob
	plan := stepPlan{steps: rec.steps.entries, finally: rec.finally.entries, finished: rec.finished, retried: rec.retried}
	if rec.finished {
		plan.ended = true
		plan.failed = plan.firstFailure()
		plan.current = plan.lastRan()
		if plan.failed != nil {
			plan.current = plan.failed
		}
		// A step still running when the run failed (an invalid edit) goes
		// on to finish: a Job suspended with the run resumes with it. A
		// finished run is not suspended again.
		if sj.Spec.Suspend == nil || !*sj.Spec.Suspend {
			for _, finally := range []bool{false, true} {
				if i := phaseIndex(plan.list(finally), v1alpha1.PhaseRunning); i >= 0 {
					plan.follow(jobs, finally, i)
				}
			}
		}
		return plan
	}
	rejectSteps(plan.steps, obs.Rejected, now)
	rejectSteps(plan.finally, obs.Rejected, now)
	plan.suspended = sj.Spec.Suspend != nil && *sj.Spec.Suspend
	queued := phaseIndex(plan.steps, v1alpha1.PhaseQueued) >= 0
	plan.activeStart, plan.suspendTime, plan.queueTime = activeClock(sj, rec, plan.suspended, queued, now)

	failed := firstFailed(plan.steps, false)
	if failed == nil && !plan.suspended && !queued {
		failed = plan.checkDeadline(sj, jobs, now)
	}
	if failed == nil {
		failed = plan.checkStepLimit(now)
	}
	running := runningIndex(plan.steps)
	if failed == nil && !allTerminal(plan.steps) {
		plan.advance(obs, jobs, false, now)
		return plan
	}
	// The steps ended. The finally steps run, after a step still running
	// (an invalid edit failed the run mid-step) ends too; a run that fails
	// before its first step starts runs none: nothing ran to clean up after.
	runFinally := len(plan.finally) > 0 && anyStarted(plan.steps)
	switch {
	case runFinally && running >= 0:
		plan.current = plan.ref(false, running)
		plan.follow(jobs, false, running)
		return plan
	case runFinally && !allTerminal(plan.finally):
		plan.advance(obs, jobs, true, now)
		return plan
	}
	plan.ended = true
	plan.failed = plan.firstFailure()
	plan.current = plan.lastRan()
	if plan.failed != nil {
		plan.current = plan.failed
	}
	return plan
}

// checkStepLimit fails the next step when it would be the run's
// MaxStartedSteps+1st: edits kept adding steps.
func (plan *stepPlan) checkStepLimit(now metav1.Time) *stepRef {
	for i := range plan.steps {
		step := &plan.steps[i]
		if step.Phase != v1alpha1.PhasePending {
			continue
		}
		if i < v1alpha1.MaxStartedSteps {
			return nil
		}
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonStepLimitExceeded, &now
		step.Message = fmt.Sprintf("the run has started %d steps, the most one run may start; edits added more", v1alpha1.MaxStartedSteps)
		return plan.ref(false, i)
	}
	return nil
}

// runningIndex is the step in progress: running, or queued for admission.
func runningIndex(entries []v1alpha1.StepStatus) int {
	return max(phaseIndex(entries, v1alpha1.PhaseRunning), phaseIndex(entries, v1alpha1.PhaseQueued))
}

func phaseIndex(entries []v1alpha1.StepStatus, phase v1alpha1.Phase) int {
	for i, step := range entries {
		if step.Phase == phase {
			return i
		}
	}
	return -1
}

func anyStarted(entries []v1alpha1.StepStatus) bool {
	for _, step := range entries {
		if step.StartTime != nil {
			return true
		}
	}
	return false
}

// advance moves one list on: the running step runs on (suspended or
// resumed with the run), or the first pending step starts.
func (plan *stepPlan) advance(obs Observed, jobs observedJobs, finally bool, now metav1.Time) {
	entries := plan.list(finally)
	for i := range entries {
		switch entries[i].Phase {
		case v1alpha1.PhaseRunning, v1alpha1.PhaseQueued:
			plan.current = plan.ref(finally, i)
			plan.follow(jobs, finally, i)
			return
		case v1alpha1.PhasePending:
			plan.start(obs, jobs, slot{finally: finally, index: i, attempt: attemptOf(entries[i])}, now)
			return
		}
	}
}

// follow keeps a running step's Job in line with spec.suspend: suspended
// with the run (its pods are deleted) and resumed with it (they start
// again).
func (plan *stepPlan) follow(jobs observedJobs, finally bool, index int) {
	step := &plan.list(finally)[index]
	owned := jobOf(jobs, finally, index, *step)
	if plan.suspended {
		step.Reason = v1alpha1.ReasonSuspended
		step.Message = fmt.Sprintf("the run is suspended: Job %s is suspended and its pods deleted; they start again when the run resumes", step.JobName)
	} else if step.Reason == v1alpha1.ReasonSuspended {
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
	}
	if owned == nil {
		return
	}
	if owned.job.Labels[v1alpha1.LabelQueueName] != "" {
		// A queued Job's spec.suspend is Kueue's: it unsuspends the Job on
		// admission, and would undo a suspension of an admitted Job. A
		// suspended run holds its next steps; the running one is Kueue's
		// to stop (docs/kueue.md).
		if step.Phase == v1alpha1.PhaseQueued {
			step.Reason = v1alpha1.ReasonQueued
		}
		return
	}
	jobSuspended := owned.job.Spec.Suspend != nil && *owned.job.Spec.Suspend
	if jobSuspended != plan.suspended {
		suspend := plan.suspended
		plan.controls = append(plan.controls, jobControl{job: step.JobName, suspend: &suspend})
	}
}

// checkDeadline fails the run when spec.runDeadlineSeconds of active time
// has passed: the running step is stopped, or the next one never starts.
// It returns the step the run stopped at, or nil while time remains.
func (plan *stepPlan) checkDeadline(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time) *stepRef {
	seconds := sj.Spec.RunDeadlineSeconds
	if seconds == nil || plan.activeStart == nil {
		return nil
	}
	deadline := plan.activeStart.Add(time.Duration(*seconds) * time.Second)
	if now.Time.Before(deadline) {
		plan.deadline = &deadline
		return nil
	}
	for i := range plan.steps {
		step := &plan.steps[i]
		if terminal(step.Phase) {
			continue
		}
		if step.Phase == v1alpha1.PhaseRunning {
			step.Message = fmt.Sprintf("stopped: the run deadline (spec.runDeadlineSeconds: %d) passed while it ran", *seconds)
			if owned := jobOf(jobs, false, i, *step); owned != nil && resultOf(owned.job, now).phase == v1alpha1.PhaseRunning {
				plan.controls = append(plan.controls, jobControl{job: step.JobName, stop: true})
			}
		} else {
			step.Message = fmt.Sprintf("never started: the run deadline (spec.runDeadlineSeconds: %d) passed first", *seconds)
		}
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonRunDeadlineExceeded, &now
		return plan.ref(false, i)
	}
	return nil
}

// activeClock is the run's active-time clock after this reconcile: it
// starts with the first step, restarts with a retry, and stands still
// while the run is suspended or its current step waits in its queue.
func activeClock(sj *v1alpha1.SequentialJob, rec runRecord, suspended, queued bool, now metav1.Time) (activeStart, suspendTime, queueTime *metav1.Time) {
	activeStart, suspendTime, queueTime = sj.Status.ActiveStartTime, sj.Status.SuspendTime, sj.Status.QueueTime
	if rec.retried {
		activeStart, suspendTime, queueTime = &now, nil, nil
	}
	activeStart, queueTime = held(activeStart, queueTime, queued, now)
	if activeStart == nil {
		for _, step := range rec.steps.entries {
			if step.StartTime != nil && (activeStart == nil || step.StartTime.Before(activeStart)) {
				activeStart = step.StartTime
			}
		}
	}
	activeStart, suspendTime = held(activeStart, suspendTime, suspended, now)
	return activeStart, suspendTime, queueTime
}

// held stops the clock while holding is true: since is when the hold
// began; when it ends, the start moves later by its length.
func held(start, since *metav1.Time, holding bool, now metav1.Time) (*metav1.Time, *metav1.Time) {
	switch {
	case holding && since == nil:
		return start, &now
	case !holding && since != nil:
		if start != nil {
			moved := metav1.NewTime(start.Add(now.Sub(since.Time)))
			start = &moved
		}
		return start, nil
	}
	return start, since
}

// rejectSteps fails the pending steps the apiserver refused as invalid:
// they would be refused again, so the run ends now rather than retrying
// forever.
func rejectSteps(entries []v1alpha1.StepStatus, rejected map[string]Rejection, now metav1.Time) {
	for i := range entries {
		if r, ok := rejected[entries[i].Name]; ok && entries[i].Phase == v1alpha1.PhasePending {
			entries[i].Phase, entries[i].Reason, entries[i].Message = v1alpha1.PhaseFailed, r.Reason, r.Message
			entries[i].CompletionTime = &now
		}
	}
}

// start starts the pending step at ref, unless something holds it back.
func (plan *stepPlan) start(obs Observed, jobs observedJobs, ref slot, now metav1.Time) {
	sj := obs.SequentialJob
	step := &plan.list(ref.finally)[ref.index]
	plan.current = plan.ref(ref.finally, ref.index)
	switch {
	case plan.suspended:
		// Nothing starts; the run-wide Suspended condition says why.
	case jobs.foreign[step.JobName] != nil:
		plan.conflict = plan.current
		step.Reason = v1alpha1.ReasonJobNameConflict
		step.Message = fmt.Sprintf("Job %s exists and is not controlled by this SequentialJob", step.JobName)
	case obs.Problem != nil:
		plan.problem = obs.Problem
		step.Reason, step.Message = obs.Problem.Reason, obs.Problem.Message
	default:
		plan.next = &nextStep{ref: ref, container: containerNamed(sj, ref.finally, step.Name)}
		step.Phase = v1alpha1.PhaseRunning
		step.StartTime = &now
		step.Attempt = ref.attempt
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
		if plan.activeStart == nil && !ref.finally {
			plan.activeStart = &now
		}
		if queue := sj.Labels[v1alpha1.LabelQueueName]; queue != "" {
			// Created suspended: it waits for admission, and the clock
			// with it.
			step.Phase, step.Reason = v1alpha1.PhaseQueued, v1alpha1.ReasonQueued
			step.Message = fmt.Sprintf("Job %s waits, suspended, for admission to LocalQueue %s", step.JobName, queue)
			if plan.queueTime == nil && !ref.finally {
				plan.queueTime = &now
			}
		}
	}
}

func (plan *stepPlan) list(finally bool) []v1alpha1.StepStatus {
	if finally {
		return plan.finally
	}
	return plan.steps
}

func (plan *stepPlan) ref(finally bool, i int) *stepRef {
	s := plan.list(finally)[i]
	return &stepRef{finally: finally, index: i, name: s.Name, job: s.JobName}
}

// firstFailure is the entry that failed the run, if one did.
func (plan *stepPlan) firstFailure() *stepRef {
	for _, finally := range []bool{false, true} {
		if i := firstFailedIndex(plan.list(finally)); i >= 0 {
			return plan.ref(finally, i)
		}
	}
	return nil
}

// lastRan is the last entry that started: of the finally steps once they
// ran, else of the steps.
func (plan *stepPlan) lastRan() *stepRef {
	for _, finally := range []bool{true, false} {
		entries := plan.list(finally)
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].Phase != v1alpha1.PhasePending {
				return plan.ref(finally, i)
			}
		}
	}
	if len(plan.steps) > 0 {
		return plan.ref(false, len(plan.steps)-1)
	}
	return nil
}

func firstFailed(entries []v1alpha1.StepStatus, finally bool) *stepRef {
	if i := firstFailedIndex(entries); i >= 0 {
		return &stepRef{finally: finally, index: i, name: entries[i].Name, job: entries[i].JobName}
	}
	return nil
}

func firstFailedIndex(entries []v1alpha1.StepStatus) int {
	for i, step := range entries {
		if failedTheRun(step) {
			return i
		}
	}
	return -1
}

func allTerminal(entries []v1alpha1.StepStatus) bool {
	for _, step := range entries {
		if !terminal(step.Phase) {
			return false
		}
	}
	return true
}

// containerNamed is the current spec's container for a pending step. A
// step pending in the current spec always has one; an entry a retry
// re-opened after its step left spec gets a container with no image, which
// the apiserver rejects, and the run says so.
func containerNamed(sj *v1alpha1.SequentialJob, finally bool, name string) corev1.Container {
	containers := sj.Spec.Containers
	if finally {
		containers = sj.Spec.Finally
	}
	for _, c := range containers {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{Name: name}
}

// settingsOf is a step's settings: its spec.stepSettings entry over the
// run-wide ones.
func settingsOf(sj *v1alpha1.SequentialJob, name string) v1alpha1.StepSettings {
	out := v1alpha1.StepSettings{Name: name, BackoffLimit: sj.Spec.BackoffLimit, ActiveDeadlineSeconds: sj.Spec.ActiveDeadlineSeconds,
		PodFailurePolicy: sj.Spec.PodFailurePolicy, OnFailure: v1alpha1.OnFailureStop}
	for _, s := range sj.Spec.StepSettings {
		if s.Name != name {
			continue
		}
		if s.BackoffLimit != nil {
			out.BackoffLimit = s.BackoffLimit
		}
		if s.ActiveDeadlineSeconds != nil {
			out.ActiveDeadlineSeconds = s.ActiveDeadlineSeconds
		}
		if s.PodFailurePolicy != nil {
			out.PodFailurePolicy = s.PodFailurePolicy
		}
		if s.OnFailure != "" {
			out.OnFailure = s.OnFailure
		}
	}
	return out
}
