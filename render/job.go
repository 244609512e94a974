package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// desiredJob is the whole Job of one attempt of a step, as a server-side
// apply intent: the step's container, over spec.stepTemplate, is the only
// container of the shared pod template, with the step's settings over the
// run-wide ones, and the results of the steps before it. The step-result
// finalizer keeps the Job until its result is in status.
func desiredJob(sj *v1alpha1.SequentialJob, next nextStep, results []namedResult) *batchv1ac.JobApplyConfiguration {
	container := withStepTemplate(sj.Spec.StepTemplate, next.container)
	labels := stepLabels(sj, next.ref, container.Name)

	template := sj.Spec.Template.DeepCopy()
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
	withClaimVolumes(sj, &template.Spec, container)
	template.Spec.Containers = []corev1.Container{withResults(template, container, results)}

	settings := settingsOf(sj, container.Name)
	spec := batchv1ac.JobSpec().WithTemplate(podTemplateApply(template))
	if settings.BackoffLimit != nil {
		spec.WithBackoffLimit(*settings.BackoffLimit)
	}
	if settings.ActiveDeadlineSeconds != nil {
		spec.WithActiveDeadlineSeconds(*settings.ActiveDeadlineSeconds)
	}
	if settings.PodFailurePolicy != nil {
		policy := &batchv1ac.PodFailurePolicyApplyConfiguration{}
		mustRoundTrip(settings.PodFailurePolicy, policy)
		spec.WithPodFailurePolicy(policy)
	}

	if queue := sj.Labels[v1alpha1.LabelQueueName]; queue != "" {
		// Created suspended, the Job waits for its queue's admission even
		// without Kueue's mutating webhook; Kueue unsuspends it once
		// admitted. One step at a time holds quota.
		spec.WithSuspend(true)
	}
	if sj.Spec.JobManagedBy != "" {
		spec.WithManagedBy(sj.Spec.JobManagedBy)
	}

	return batchv1ac.Job(next.ref.jobName(sj.Name), sj.Namespace).
		WithLabels(withQueueLabels(sj, labels)).
		WithAnnotations(map[string]string{v1alpha1.AnnotationSpecGeneration: strconv.FormatInt(sj.Generation, 10)}).
		WithOwnerReferences(controllerRef(sj)).
		WithFinalizers(v1alpha1.FinalizerStepResult).
		WithSpec(spec)
}

// withResults hands the earlier steps' results to a step: each is an
// annotation of the pod template, read back into the variable
// ResultEnvName(step) through the downward API. That needs no sidecar, no
// shared volume and no access to the API from the step. A variable the
// step's container sets itself wins: it is left out.
func withResults(template *corev1.PodTemplateSpec, container corev1.Container, results []namedResult) corev1.Container {
	if len(results) == 0 {
		return container
	}
	own := map[string]bool{}
	for _, env := range container.Env {
		own[env.Name] = true
	}
	annotations := maps.Clone(template.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	var env []corev1.EnvVar
	for _, r := range results {
		key := v1alpha1.ResultAnnotationPrefix + r.step
		annotations[key] = r.result
		if name := ResultEnvName(r.step); !own[name] {
			env = append(env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + key + "']"}}})
		}
	}
	template.Annotations = annotations
	container = *container.DeepCopy()
	container.Env = append(env, container.Env...)
	return container
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

// JobOf is the typed Job an apply intent describes, for a create (the
// dry-run) or a test that plays the cluster.
func JobOf(intent *batchv1ac.JobApplyConfiguration) *batchv1.Job {
	job := &batchv1.Job{}
	mustRoundTrip(intent, job)
	return job
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

// withQueueLabels adds the SequentialJob's Kueue labels (queue, priority)
// to a step Job's labels: Kueue reads them on the Job.
func withQueueLabels(sj *v1alpha1.SequentialJob, labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	for _, key := range []string{v1alpha1.LabelQueueName, v1alpha1.LabelPriorityClass} {
		if v := sj.Labels[key]; v != "" {
			out[key] = v
		}
	}
	return out
}
