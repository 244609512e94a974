package render

import (
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// decide says what the run does now, once per observation. The steps run
// one after another: a failed step (unless onFailure: Continue) or the run
// deadline ends them. Then the finally steps run, each once, whatever
// happened. Nothing new starts while a step runs, while the run is
// suspended, or once it ended.
func decide(obs Observed, jobs observedJobs, rec runRecord, now metav1.Time) decision {
	sj := obs.SequentialJob
	d := decision{steps: rec.steps.entries, finally: rec.finally.entries}
	suspended := suspendRequested(sj)
	if rec.finished {
		// A step still running when the run failed (an invalid edit) goes
		// on to finish: a Job suspended with the run resumes with it. A
		// finished run is not suspended again.
		if !suspended {
			for _, finally := range []bool{false, true} {
				if i := phaseIndex(d.list(finally), v1alpha1.PhaseRunning); i >= 0 {
					d.follow(jobs, finally, i, false)
				}
			}
		}
		d.end()
		return d
	}
	d.checkSteps(obs, rec, now)
	queued := phaseIndex(d.steps, v1alpha1.PhaseQueued) >= 0
	waiting := stillWaiting(sj, rec, suspended)
	d.clock = activeClock(sj, rec, suspended, queued, waiting, now)
	d.proceed(obs, jobs, suspended, suspended || queued || waiting, now)
	d.settleWait(now)
	return d
}

// proceed decides an unfinished run: the steps go on, else the finally
// steps, else it ends. held stops the run deadline's clock.
func (d *decision) proceed(obs Observed, jobs observedJobs, suspended, held bool, now metav1.Time) {
	failed := d.stopped(obs.SequentialJob, jobs, held, now)
	if failed == nil && !allTerminal(d.steps) && d.advance(obs, jobs, false, suspended, now) {
		return
	}
	if d.runFinally(obs, jobs, suspended, now) {
		return
	}
	d.end()
}

// checkSteps fails the pending steps found invalid: the ones the apiserver
// refused, and, before the first step and after every edit (the moment of
// the dry-run, see needsOf), those whose when does not check.
func (d *decision) checkSteps(obs Observed, rec runRecord, now metav1.Time) {
	sj := obs.SequentialJob
	rejected := obs.Answers.rejected()
	if claims := rejectClaims(sj, d, obs.Answers.rejectedClaims()); len(claims) > 0 {
		rejected = maps.Clone(claims)
		maps.Copy(rejected, obs.Answers.rejected())
	}
	rejectSteps(d.steps, rejected, now)
	rejectSteps(d.finally, rejected, now)
	d.attempt = max(sj.Status.Attempt, 1)
	if rec.retried {
		d.attempt++
	}
	if sj.Generation != sj.Status.ObservedGeneration {
		d.checkWhens(sj, now)
	}
}

// stopped is the entry that stops the steps, or nil: a step that failed
// the run, the run deadline (its clock stands still while held), the step
// limit, or a finally step found invalid before it could start, which
// fails the run as an invalid step does, before the steps it would follow.
func (d *decision) stopped(sj *v1alpha1.SequentialJob, jobs observedJobs, held bool, now metav1.Time) *stepRef {
	if failed := firstFailedRun(d.steps, false); failed != nil {
		return failed
	}
	if !held {
		if failed := d.checkDeadline(sj, jobs, now); failed != nil {
			return failed
		}
	}
	if failed := d.checkStepLimit(now); failed != nil {
		return failed
	}
	return firstInvalid(d.finally, true)
}

// advance moves one list on: the running step runs on (suspended or
// resumed with the run), or the first pending step starts; a pending step
// whose when is false is skipped, and the next one's turn comes. It says
// whether the list goes on: false once every entry ended, or when a
// step's when failed the run.
func (d *decision) advance(obs Observed, jobs observedJobs, finally, suspended bool, now metav1.Time) bool {
	sj := obs.SequentialJob
	entries := d.list(finally)
	for i := range entries {
		switch entries[i].Phase {
		case v1alpha1.PhaseRunning, v1alpha1.PhaseQueued:
			d.current = d.ref(finally, i)
			d.follow(jobs, finally, i, suspended)
			d.inProgress(suspended)
			return true
		case v1alpha1.PhasePending:
			if expr := whenOf(sj, entries[i].Name); expr != "" && startedAfter(entries, i) {
				// A later entry has a Job, so this one's turn passed and it
				// was skipped, by a render whose status was never written
				// (a crash, a lost write): it is skipped again, never run.
				skipStep(&entries[i], expr, now)
				continue
			}
			if !suspended && !d.whenTurn(sj, finally, i, now) {
				if failedTheRun(entries[i]) {
					return false
				}
				continue
			}
			d.start(obs, jobs, slot{finally: finally, index: i, attempt: attemptOf(entries[i])}, suspended, now)
			return true
		}
	}
	return false
}

// startedAfter is true when an entry after index in entries started.
func startedAfter(entries []v1alpha1.StepStatus, index int) bool {
	return anyStarted(entries[index+1:])
}

// start starts the pending step at ref, unless something holds it back.
func (d *decision) start(obs Observed, jobs observedJobs, ref slot, suspended bool, now metav1.Time) {
	sj := obs.SequentialJob
	step := &d.list(ref.finally)[ref.index]
	d.current = d.ref(ref.finally, ref.index)
	problem := obs.Answers.problem()
	switch {
	case suspended:
		// Nothing starts; the run-wide Suspended condition says why.
		d.state = stateSuspended
	case !ref.finally && gateHolds(sj, step.Name):
		d.await(step)
	case jobs.foreign[step.JobName] != nil:
		d.state = stateBlocked
		step.Reason = v1alpha1.ReasonJobNameConflict
		step.Message = fmt.Sprintf(fmtJobNameTaken, step.JobName)
	case problem != nil:
		d.state, d.problem = problem.state(now), problem
		step.Reason, step.Message = problem.Reason, problem.Message
	default:
		c, _ := containerNamed(specList(sj, ref.finally), step.Name)
		d.next = &nextStep{ref: ref, container: c}
		step.Phase = v1alpha1.PhaseRunning
		step.StartTime = &now
		step.Attempt = ref.attempt
		step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
		if d.clock.activeStart == nil && !ref.finally {
			d.clock.activeStart = &now
		}
		d.enqueue(sj, step, ref.finally, now)
		d.inProgress(false)
	}
}

// checkStepLimit fails the next step when it would be the run's
// MaxStartedSteps+1st: edits kept adding steps.
func (d *decision) checkStepLimit(now metav1.Time) *stepRef {
	for i := range d.steps {
		step := &d.steps[i]
		if step.Phase != v1alpha1.PhasePending {
			continue
		}
		if i < v1alpha1.MaxStartedSteps {
			return nil
		}
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonStepLimitExceeded, &now
		step.Message = fmt.Sprintf(fmtStepLimit, v1alpha1.MaxStartedSteps)
		return d.ref(false, i)
	}
	return nil
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
