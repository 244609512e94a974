package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// desiredJob is the whole Job of the step container at entry index of
// status.steps, as a server-side apply intent: the step's container is the
// only container of the shared pod template. The step-result finalizer
// keeps the Job until its result is in status.
func desiredJob(sj *v1alpha1.SequentialJob, container corev1.Container, index int) *batchv1ac.JobApplyConfiguration {
	labels := stepLabels(sj, index, container.Name)

	template := sj.Spec.Template.DeepCopy()
	template.Spec.Containers = []corev1.Container{container}
	if template.Spec.RestartPolicy == "" {
		// A Job requires Never or OnFailure; Never keeps each failed
		// attempt's pod for inspection and counts it against backoffLimit.
		template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	podLabels := maps.Clone(template.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, labels)
	template.Labels = podLabels

	spec := batchv1ac.JobSpec().WithTemplate(podTemplateApply(template))
	if sj.Spec.BackoffLimit != nil {
		spec.WithBackoffLimit(*sj.Spec.BackoffLimit)
	}
	if sj.Spec.ActiveDeadlineSeconds != nil {
		spec.WithActiveDeadlineSeconds(*sj.Spec.ActiveDeadlineSeconds)
	}

	return batchv1ac.Job(JobName(sj.Name, index), sj.Namespace).
		WithLabels(labels).
		WithAnnotations(map[string]string{v1alpha1.AnnotationSpecGeneration: strconv.FormatInt(sj.Generation, 10)}).
		WithOwnerReferences(controllerRef(sj)).
		WithFinalizers(v1alpha1.FinalizerStepResult).
		WithSpec(spec)
}

// controllerRef makes the SequentialJob the Job's controller: the garbage
// collector deletes the Job with it, and BlockOwnerDeletion lets foreground
// deletion of the SequentialJob wait for it.
func controllerRef(sj *v1alpha1.SequentialJob) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(v1alpha1.GroupVersion.String()).
		WithKind("SequentialJob").
		WithName(sj.Name).
		WithUID(sj.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// podTemplateApply converts the typed template to its apply configuration.
// Apply configurations mirror the typed structs' JSON, so a JSON round trip
// is exact and spares a hand-written copy of every PodSpec field.
func podTemplateApply(template *corev1.PodTemplateSpec) *corev1ac.PodTemplateSpecApplyConfiguration {
	out := &corev1ac.PodTemplateSpecApplyConfiguration{}
	mustRoundTrip(template, out)
	return out
}

// mustRoundTrip copies typed values into their apply configuration. Both
// sides come from the same generated types, so an error is a programming
// error, never bad user input.
func mustRoundTrip(from, to any) {
	data, err := json.Marshal(from)
	if err == nil {
		err = json.Unmarshal(data, to)
	}
	if err != nil {
		panic(fmt.Sprintf("render: converting %T to %T: %v", from, to, err))
	}
}
