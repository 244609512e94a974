package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runFinally moves the finally steps on once the steps ended, and says
// whether the run goes on. They run after a step still running (an invalid
// edit failed the run mid-step) ends too; a run that fails before its first
// step starts runs none: nothing ran to clean up after.
func (d *decision) runFinally(obs Observed, jobs observedJobs, suspended bool, now metav1.Time) bool {
	if len(d.finally) == 0 || !anyReached(d.steps) {
		return false
	}
	if running := runningIndex(d.steps); running >= 0 {
		d.current = d.ref(false, running)
		d.follow(jobs, false, running, suspended)
		d.inProgress(suspended)
		return true
	}
	if allTerminal(d.finally) {
		return false
	}
	return d.advance(obs, jobs, true, suspended, now)
}

// finallyStarted is true once a finally step has started: status says so,
// or its Job exists although status does not record it yet (a crash).
func finallyStarted(finally []v1alpha1.StepStatus, jobs observedJobs) bool {
	for i, step := range finally {
		if step.Phase != v1alpha1.PhasePending || jobOf(jobs, true, i, step) != nil {
			return true
		}
	}
	return len(finally) == 0 && len(jobs.finally) > 0
}
