package render

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Approval gates (stepSettings[].approval: Required): the run holds before
// a gated step's Job exists until spec.approvedSteps lists the step. The
// gate is looked at only when the step's turn comes, so an approval given
// earlier lets the run pass without stopping, and one removed after the
// step started changes nothing. A step whose when is false is skipped, and
// does not wait. A retried step passes a gate it was approved at before:
// approvals live in spec, and spec keeps them.

// gated is true when the step of spec.containers named name has an
// approval gate. Finally steps have none (the CRD refuses one).
func gated(sj *v1alpha1.SequentialJob, name string) bool {
	for _, s := range sj.Spec.StepSettings {
		if s.Name == name {
			return s.Approval == v1alpha1.ApprovalRequired
		}
	}
	return false
}

// approved is true when spec.approvedSteps lists the step.
func approved(sj *v1alpha1.SequentialJob, name string) bool {
	return slices.Contains(sj.Spec.ApprovedSteps, name)
}

// gateHolds is true when the step, at its turn, must wait for approval.
func gateHolds(sj *v1alpha1.SequentialJob, name string) bool {
	return gated(sj, name) && !approved(sj, name)
}

// stillWaiting is true when the observed run waited at a gate that still
// holds, and does not turn to Suspended: the run deadline's clock stands
// still through this reconcile, as for a suspension.
func stillWaiting(sj *v1alpha1.SequentialJob, rec runRecord, suspended bool) bool {
	old := sj.Status
	if suspended || old.Phase != v1alpha1.PhaseWaiting || !gateHolds(sj, old.Progress.CurrentStep) {
		return false
	}
	for _, step := range rec.steps.entries {
		if step.Name == old.Progress.CurrentStep {
			return step.Phase == v1alpha1.PhasePending
		}
	}
	return false
}

// await holds the run before the gated pending step: no Job, state
// Waiting. The run deadline is not looked at again while the run waits:
// its clock stands still (settleWait), and the approval is a spec change
// the controller watches.
func (d *decision) await(step *v1alpha1.StepStatus) {
	d.state = stateWaiting
	step.Reason = v1alpha1.ReasonAwaitingApproval
	step.Message = fmt.Sprintf(fmtAwaitingStep, step.Name)
	d.deadline = nil
}

// settleWait starts the wait's clock when the run reached a gate in this
// reconcile, or moves the active start by the wait once it ended.
func (d *decision) settleWait(now metav1.Time) {
	d.clock.activeStart, d.clock.waitTime = held(d.clock.activeStart, d.clock.waitTime, d.state == stateWaiting, now)
}

func awaitingText(d decision, _ v1alpha1.SequentialJobStatus) (string, string) {
	return v1alpha1.ReasonAwaitingApproval, fmt.Sprintf(fmtAwaitingApproval, d.current.describe(), d.current.name, d.current.name)
}
