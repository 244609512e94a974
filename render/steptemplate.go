package render

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// withStepTemplate is a step's container over spec.stepTemplate, the
// container defaults of every step (Tekton's stepTemplate). The step's own
// field wins, as in Tekton, which patches the step over the template with a
// strategic merge patch; here:
//
//   - env, volumeMounts, volumeDevices and ports are lists keyed by name,
//     mountPath, devicePath and (containerPort, protocol): the template's
//     entries come first, each replaced in place by the step's entry of the
//     same key, whole; then the step's other entries, in its order. (A
//     strategic merge patch would merge the two entries field by field, so
//     a step's env value and the template's valueFrom of one variable both
//     end up set, which Tekton mends afterwards for env only; and it keys
//     ports by containerPort alone, so a step's UDP 53 would take over the
//     template's TCP 53.)
//   - envFrom has no key and its later sources win: the template's sources
//     come first, then the step's, and a template source that the step
//     lists too (same kind, name and prefix) is left to the step's.
//     (Tekton's strategic merge patch replaces the list, as it is atomic.)
//   - every other field: the strategic merge patch of the step over the
//     template, as Tekton does. Objects such as resources and
//     securityContext merge field by field (resources.requests per
//     resource name), and the other lists (command, args,
//     securityContext.capabilities.add, ...) are the step's when it sets
//     them. A field the step leaves unset or empty takes the template's.
//
// Without a template the step's container is returned as it is.
func withStepTemplate(template *corev1.Container, step corev1.Container) corev1.Container {
	if template == nil {
		return step
	}
	base, over := template.DeepCopy(), step.DeepCopy()
	keyed := func(c *corev1.Container) (env []corev1.EnvVar, envFrom []corev1.EnvFromSource,
		mounts []corev1.VolumeMount, devices []corev1.VolumeDevice, ports []corev1.ContainerPort) {
		env, envFrom, mounts, devices, ports = c.Env, c.EnvFrom, c.VolumeMounts, c.VolumeDevices, c.Ports
		c.Env, c.EnvFrom, c.VolumeMounts, c.VolumeDevices, c.Ports = nil, nil, nil, nil, nil
		return env, envFrom, mounts, devices, ports
	}
	tEnv, tEnvFrom, tMounts, tDevices, tPorts := keyed(base)
	sEnv, sEnvFrom, sMounts, sDevices, sPorts := keyed(over)

	merged := strategicMerge(base, over)
	merged.Env = mergeByKey(tEnv, sEnv, func(e corev1.EnvVar) string { return e.Name })
	merged.VolumeMounts = mergeByKey(tMounts, sMounts, func(m corev1.VolumeMount) string { return m.MountPath })
	merged.VolumeDevices = mergeByKey(tDevices, sDevices, func(d corev1.VolumeDevice) string { return d.DevicePath })
	merged.Ports = mergeByKey(tPorts, sPorts, portKey)
	merged.EnvFrom = appendEnvFrom(tEnvFrom, sEnvFrom)
	return merged
}

// strategicMerge applies the step's container, as a strategic merge patch,
// to the template's. Both are typed containers marshalled by encoding/json,
// so the patch is well formed and an error is a programming error, never
// bad user input.
func strategicMerge(template, step *corev1.Container) corev1.Container {
	original, err := json.Marshal(template)
	if err != nil {
		panic(fmt.Sprintf("render: marshalling the step template: %v", err))
	}
	patch, err := json.Marshal(step)
	if err != nil {
		panic(fmt.Sprintf("render: marshalling step %q: %v", step.Name, err))
	}
	out, err := strategicpatch.StrategicMergePatch(original, patch, corev1.Container{})
	if err != nil {
		panic(fmt.Sprintf("render: merging step %q over the step template: %v", step.Name, err))
	}
	var merged corev1.Container
	if err := json.Unmarshal(out, &merged); err != nil {
		panic(fmt.Sprintf("render: reading step %q merged over the step template: %v", step.Name, err))
	}
	return merged
}

// mergeByKey is the template's entries, each replaced in place by the
// step's entry of the same key, then the step's other entries in order.
// Position matters for env: a variable may refer to the ones before it
// ($(NAME)), so a template variable the step overrides keeps its place.
func mergeByKey[T any](template, step []T, key func(T) string) []T {
	if len(template) == 0 {
		return step
	}
	own := make(map[string]int, len(step))
	for i, e := range step {
		own[key(e)] = i
	}
	out := make([]T, 0, len(template)+len(step))
	used := make(map[string]bool, len(step))
	for _, e := range template {
		if i, ok := own[key(e)]; ok {
			if !used[key(e)] {
				out = append(out, step[i])
				used[key(e)] = true
			}
			continue
		}
		out = append(out, e)
	}
	for _, e := range step {
		if !used[key(e)] {
			out = append(out, e)
		}
	}
	return out
}

// portKey is a port's key in the Pod API (x-kubernetes-list-map-keys
// containerPort and protocol); an unset protocol is TCP, its default.
func portKey(p corev1.ContainerPort) string {
	protocol := p.Protocol
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%d/%s", p.ContainerPort, protocol)
}

// appendEnvFrom is the template's envFrom sources, then the step's: a
// variable that several sources define takes the last one's value, so the
// step's win. A template source the step lists too is dropped, so each
// source is read once and the step's copy (its optional flag) counts.
func appendEnvFrom(template, step []corev1.EnvFromSource) []corev1.EnvFromSource {
	if len(template) == 0 {
		return step
	}
	own := make(map[string]bool, len(step))
	for _, s := range step {
		own[envFromKey(s)] = true
	}
	out := make([]corev1.EnvFromSource, 0, len(template)+len(step))
	for _, s := range template {
		if !own[envFromKey(s)] {
			out = append(out, s)
		}
	}
	return append(out, step...)
}

// envFromKey names an envFrom source: its kind, the object it reads and
// the prefix it adds.
func envFromKey(s corev1.EnvFromSource) string {
	switch {
	case s.ConfigMapRef != nil:
		return "configMap/" + s.ConfigMapRef.Name + "/" + s.Prefix
	case s.SecretRef != nil:
		return "secret/" + s.SecretRef.Name + "/" + s.Prefix
	default:
		// A source of a kind this version does not know: keep each.
		data, _ := json.Marshal(s)
		return "other/" + string(data)
	}
}
