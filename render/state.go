package render

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runState is where the run stands after one reconcile's decision. It is
// the one value the status is derived from: the phase, the conditions and
// when to look again all come from its row of the table in conditions.go.
type runState string

const (
	// stateRunning: a step runs, or its Job is created now (decision.next).
	stateRunning runState = "Running"
	// stateQueued: the current step's Job waits, suspended, for its queue.
	stateQueued runState = "Queued"
	// stateSuspended: spec.suspend holds the unfinished run.
	stateSuspended runState = "Suspended"
	// stateWaiting: the next step has an approval gate that
	// spec.approvedSteps has not released: its Job is not created.
	stateWaiting runState = "Waiting"
	// stateBlocked: the step that should start cannot, because a Job we do
	// not control has its Job's name. Nothing we own will change that.
	stateBlocked runState = "Blocked"
	// stateHeld: the step that should start waits for something the user or
	// the cluster must fix (a ServiceAccount, a quota): ResourcesUnavailable.
	stateHeld runState = "Held"
	// stateRetrying: an apiserver error held the step that should start,
	// for less than ErrorGracePeriod: retried, not yet reported as Failed.
	stateRetrying runState = "Retrying"
	// stateErroring: that error has persisted for ErrorGracePeriod: the
	// seed's Failed=True with reason ReconciliationError, still retried.
	stateErroring runState = "Erroring"
	// stateFinally: the steps ended and a finally step runs.
	stateFinally runState = "Finally"
	// stateSucceeded and stateFailed: the run ended (now or before).
	stateSucceeded runState = "Succeeded"
	stateFailed    runState = "Failed"
)

// ErrorGracePeriod is how long an unexpected apiserver error may hold a
// run before it is reported as the seed's ReconciliationError (Failed=True,
// a Warning event, an error log line). One hiccup of the apiserver must not
// end `kubectl wait --for=condition=Failed` or show the run Degraded in
// Argo CD; thirty seconds spans an apiserver restart or a leader change of
// etcd, and about ten retries of the controller's backoff.
const ErrorGracePeriod = 30 * time.Second

// decision is what the run does now: its state, and only the references
// that state needs.
type decision struct {
	state runState
	// current is the entry the run is at: the one running, queued, held or
	// about to start; the one that failed the run; else the last that ran.
	current *stepRef
	// failed is the entry that failed the run (stateFailed), or while the
	// finally steps run, the step that failed before them, if one did.
	failed *stepRef
	// next is the step whose Job is created now (stateRunning, stateQueued
	// or stateFinally).
	next *nextStep
	// problem is what holds the step that should start (stateHeld,
	// stateRetrying, stateErroring).
	problem *Problem

	// steps and finally are the run's record after the decision.
	steps, finally []v1alpha1.StepStatus
	// controls are changes to running steps' Jobs: suspend, resume, stop.
	controls []jobControl
	// clock is the run's active-time clock (see deadline.go).
	clock runClock
	// deadline is when spec.runDeadlineSeconds passes, while it can.
	deadline *time.Time
	// attempt is the run's attempt after the decision (status.attempt),
	// which a step's when reads as run.attempt.
	attempt int32
}

// ended is true for the two final states.
func (s runState) ended() bool { return s == stateSucceeded || s == stateFailed }

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

func (d *decision) list(finally bool) []v1alpha1.StepStatus {
	if finally {
		return d.finally
	}
	return d.steps
}

func (d *decision) ref(finally bool, i int) *stepRef {
	s := d.list(finally)[i]
	return &stepRef{finally: finally, index: i, name: s.Name, job: s.JobName}
}

// entry is the record's entry ref points at.
func (d *decision) entry(ref *stepRef) v1alpha1.StepStatus {
	return d.list(ref.finally)[ref.index]
}

// describe names an entry for messages: "step 1 (build)" or
// "finally step 0 (notify)".
func (r *stepRef) describe() string {
	if r.finally {
		return fmt.Sprintf(fmtFinallyStep, r.index, r.name)
	}
	return fmt.Sprintf(fmtStep, r.index, r.name)
}

// firstFailedRun is the first entry of entries that failed the run (not
// one allowed to fail with onFailure: Continue), or nil.
func firstFailedRun(entries []v1alpha1.StepStatus, finally bool) *stepRef {
	for i, step := range entries {
		if failedTheRun(step) {
			return &stepRef{finally: finally, index: i, name: step.Name, job: step.JobName}
		}
	}
	return nil
}

func failedTheRun(step v1alpha1.StepStatus) bool {
	return step.Phase == v1alpha1.PhaseFailed && step.OnFailure != v1alpha1.OnFailureContinue
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

// anyReached is true when a step's turn came: it started, or its when
// skipped it.
func anyReached(entries []v1alpha1.StepStatus) bool {
	return anyStarted(entries) || phaseIndex(entries, v1alpha1.PhaseSkipped) >= 0
}

// firstInvalid is the first entry that was found invalid before it
// started (reason InvalidStep), or nil.
func firstInvalid(entries []v1alpha1.StepStatus, finally bool) *stepRef {
	for i, step := range entries {
		if step.Phase == v1alpha1.PhaseFailed && step.Reason == v1alpha1.ReasonInvalidStep && step.StartTime == nil {
			return &stepRef{finally: finally, index: i, name: step.Name, job: step.JobName}
		}
	}
	return nil
}

func allTerminal(entries []v1alpha1.StepStatus) bool {
	for _, step := range entries {
		if !step.Phase.Terminal() {
			return false
		}
	}
	return true
}

// runningIndex is the step in progress: running, or queued for admission.
func runningIndex(entries []v1alpha1.StepStatus) int {
	return max(phaseIndex(entries, v1alpha1.PhaseRunning), phaseIndex(entries, v1alpha1.PhaseQueued))
}

// inProgress is the state of a run that goes on at current.
func (d *decision) inProgress(suspended bool) {
	switch {
	case suspended:
		d.state = stateSuspended
	case d.entry(d.current).Phase == v1alpha1.PhaseQueued:
		d.state = stateQueued
	case d.current.finally:
		d.state = stateFinally
		d.failed = firstFailedRun(d.steps, false)
	default:
		d.state = stateRunning
	}
}

// end is the state of a run that ended: Failed at the entry that failed
// it (a step, else a finally step), or Succeeded at the last that ran.
func (d *decision) end() {
	d.state, d.failed = stateSucceeded, firstFailedRun(d.steps, false)
	if d.failed == nil {
		d.failed = firstFailedRun(d.finally, true)
	}
	if d.failed != nil {
		d.state, d.current = stateFailed, d.failed
		return
	}
	d.current = d.lastRan()
}

// lastRan is the last entry that started: of the finally steps once they
// ran, else of the steps.
func (d *decision) lastRan() *stepRef {
	for _, finally := range []bool{true, false} {
		entries := d.list(finally)
		for i := len(entries) - 1; i >= 0; i-- {
			if entries[i].Phase != v1alpha1.PhasePending {
				return d.ref(finally, i)
			}
		}
	}
	if len(d.steps) > 0 {
		return d.ref(false, len(d.steps)-1)
	}
	return nil
}
