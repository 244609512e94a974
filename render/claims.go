package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// ClaimName is the name of the claim of a volume claim template:
// "<sj>-<template>". A CEL rule keeps it within 63 characters; a longer one
// (stored before that rule) is shortened with a hash, as Job names are.
func ClaimName(sjName, template string) string {
	name := sjName + "-" + template
	if len(name) <= v1alpha1.MaxJobNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	return name[:v1alpha1.MaxJobNameLength-len(hash)] + hash
}

// desiredClaims are the run's claims as whole server-side apply intents,
// labelled like its Jobs and owned by the SequentialJob, so the garbage
// collector deletes them with it. The controller waits for none to bind:
// the scheduler binds a claim with the first pod that uses it.
func desiredClaims(sj *v1alpha1.SequentialJob) []*corev1ac.PersistentVolumeClaimApplyConfiguration {
	var out []*corev1ac.PersistentVolumeClaimApplyConfiguration
	for _, t := range sj.Spec.VolumeClaimTemplates {
		labels := maps.Clone(t.Metadata.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[v1alpha1.LabelSequentialJob] = sj.Name
		labels[v1alpha1.LabelClaimTemplate] = t.Name
		spec := &corev1ac.PersistentVolumeClaimSpecApplyConfiguration{}
		mustRoundTrip(t.Spec, spec)
		claim := corev1ac.PersistentVolumeClaim(ClaimName(sj.Name, t.Name), sj.Namespace).
			WithLabels(labels).
			WithOwnerReferences(controllerRef(sj)).
			WithSpec(spec)
		if len(t.Metadata.Annotations) > 0 {
			claim.WithAnnotations(maps.Clone(t.Metadata.Annotations))
		}
		out = append(out, claim)
	}
	return out
}

// ClaimOf is the typed claim an apply intent describes, for the dry-run.
func ClaimOf(intent *corev1ac.PersistentVolumeClaimApplyConfiguration) *corev1.PersistentVolumeClaim {
	claim := &corev1.PersistentVolumeClaim{}
	mustRoundTrip(intent, claim)
	return claim
}

// withClaimVolumes adds to a step's pod a persistentVolumeClaim volume for
// each claim template its container (over the stepTemplate) mounts, named
// as the template. Only those: a step that mounts no claim does not wait
// for one to bind, nor is it scheduled where one is.
func withClaimVolumes(sj *v1alpha1.SequentialJob, spec *corev1.PodSpec, container corev1.Container) {
	for _, t := range sj.Spec.VolumeClaimTemplates {
		if !slices.ContainsFunc(container.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == t.Name }) {
			continue
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ClaimName(sj.Name, t.Name)}}})
	}
}

// claimsToDelete are the claims to delete now: those of a run that
// finishes in this render (observed not terminal, desired terminal), unless
// volumeClaimRetention.whenFinished is Retain. The reconciler deletes them
// before it writes the terminal status, so a failed delete is retried with
// the same transition.
func claimsToDelete(sj *v1alpha1.SequentialJob, status v1alpha1.SequentialJobStatus) []string {
	if len(sj.Spec.VolumeClaimTemplates) == 0 || claimRetention(sj) == v1alpha1.ClaimRetentionRetain ||
		sj.Status.Phase.Terminal() || !status.Phase.Terminal() {
		return nil
	}
	var out []string
	for _, t := range sj.Spec.VolumeClaimTemplates {
		out = append(out, ClaimName(sj.Name, t.Name))
	}
	return out
}

// rejectClaims turns the claims the apiserver refused into rejections of
// the pending steps that mount them (of the first pending step when none
// does): the run fails with InvalidStep before the step that needs the
// claim, as it does for a step whose Job is invalid.
func rejectClaims(sj *v1alpha1.SequentialJob, d *decision, claims map[string]Rejection) map[string]Rejection {
	if len(claims) == 0 {
		return nil
	}
	out := map[string]Rejection{}
	for _, t := range sj.Spec.VolumeClaimTemplates {
		r, ok := claims[t.Name]
		if !ok {
			continue
		}
		r.Message = fmt.Sprintf(fmtClaimRejected, ClaimName(sj.Name, t.Name), t.Name, r.Message)
		mounted := false
		for _, finally := range []bool{false, true} {
			for _, step := range d.list(finally) {
				c, _ := containerNamed(specList(sj, finally), step.Name)
				c = withStepTemplate(sj.Spec.StepTemplate, c)
				if step.Phase == v1alpha1.PhasePending && slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == t.Name }) {
					mounted = true
					if _, taken := out[step.Name]; !taken {
						out[step.Name] = r
					}
				}
			}
		}
		if i := phaseIndex(d.steps, v1alpha1.PhasePending); !mounted && i >= 0 {
			if _, taken := out[d.steps[i].Name]; !taken {
				out[d.steps[i].Name] = r
			}
		}
	}
	return out
}

// claimRetention is spec.volumeClaimRetention.whenFinished, Delete unless set.
func claimRetention(sj *v1alpha1.SequentialJob) v1alpha1.ClaimRetentionPolicy {
	if r := sj.Spec.VolumeClaimRetention; r != nil && r.WhenFinished != "" {
		return r.WhenFinished
	}
	return v1alpha1.ClaimRetentionDelete
}

// ClaimTemplateOf is the template name of a claim intent of desiredClaims,
// which the dry-run reports rejections by.
func ClaimTemplateOf(intent *corev1ac.PersistentVolumeClaimApplyConfiguration) string {
	return intent.Labels[v1alpha1.LabelClaimTemplate]
}
