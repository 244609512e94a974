package render

import (
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// specList is the spec's list of the steps, or of the finally steps.
func specList(sj *v1alpha1.SequentialJob, finally bool) []corev1.Container {
	if finally {
		return sj.Spec.Finally
	}
	return sj.Spec.Containers
}

// containerNamed is the container of the step called name in containers.
// A step pending in the current spec always has one; for an entry a retry
// re-opened after its step left spec, it is a container with no image,
// which the apiserver rejects, and the run says so.
func containerNamed(containers []corev1.Container, name string) (corev1.Container, bool) {
	for _, c := range containers {
		if c.Name == name {
			return c, true
		}
	}
	return corev1.Container{Name: name}, false
}

func hasContainer(containers []corev1.Container, name string) bool {
	_, ok := containerNamed(containers, name)
	return ok
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
