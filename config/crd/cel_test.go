package crd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
)

// object is a SequentialJob with the given spec (YAML) and name.
func object(t *testing.T, name, spec string) map[string]any {
	t.Helper()
	var obj map[string]any
	doc := fmt.Sprintf("apiVersion: batch.example.com/v1alpha1\nkind: SequentialJob\nmetadata: {name: %s, namespace: default}\nspec:\n%s", name, spec)
	require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
	return obj
}

const oneStep = "  containers: [{name: a, image: busybox}]\n"

// volumes is a spec of steps steps, each mounting the first mounts of
// nVolumes template volumes, whose names have nameLength characters. With
// missing, the last step's last mount names no volume.
func volumes(steps, mounts, nVolumes, nameLength int, missing bool) string {
	name := func(i int) string {
		n := fmt.Sprintf("v%d-", i)
		return n + strings.Repeat("x", nameLength-len(n))
	}
	var b strings.Builder
	b.WriteString("  containers:\n")
	for s := range steps {
		fmt.Fprintf(&b, "  - name: s%d\n    image: busybox\n    volumeMounts:\n", s)
		for m := range mounts {
			mount := name(m)
			if missing && s == steps-1 && m == mounts-1 {
				mount = "missing"
			}
			fmt.Fprintf(&b, "    - {name: %s, mountPath: /m/%d}\n", mount, m)
		}
	}
	b.WriteString("  template:\n    spec:\n      volumes:\n")
	for v := range nVolumes {
		fmt.Fprintf(&b, "      - {name: %s, emptyDir: {}}\n", name(v))
	}
	return b.String()
}

// initContainers is a flow list of n init containers.
func initContainers(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("{name: i%d, image: busybox}", i)
	}
	return strings.Join(items, ", ")
}

// finallySteps is n finally steps, z0..z<n-1>.
func finallySteps(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("{name: z%d, image: busybox}", i)
	}
	return strings.Join(items, ", ")
}

// TestCRDValidationRules runs every schema and CEL rule of the generated CRD
// through apiextensions-apiserver's structural schema and CEL validator: an
// accept case and a reject case each, with the message a user would read.
func TestCRDValidationRules(t *testing.T) {
	steps := func(n int) string {
		var b strings.Builder
		b.WriteString("  containers:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: s%d, image: busybox}\n", i)
		}
		return b.String()
	}
	cases := map[string]struct {
		reason  string
		name    string
		spec    string
		wantErr string // empty: accepted
	}{
		"seed example without template": {
			reason: "The seed's example has no template; the embedded PodSpec's required containers must not reject it.",
			spec:   "  containers:\n  - name: step1\n    image: busybox\n    command: [sh, -c]\n    args: [\"echo 'Processing step 1'; sleep 10\"]\n    resources: {requests: {memory: 64Mi, cpu: 100m}}\n",
		},
		"template with pod settings only": {
			reason: "A template that sets shared pod settings but no containers is the normal case.",
			spec:   oneStep + "  template: {metadata: {labels: {team: data}}, spec: {nodeSelector: {pool: batch}, serviceAccountName: runner}}\n",
		},
		"template with containers": {
			reason:  "Steps come from spec.containers only.",
			spec:    oneStep + "  template: {spec: {containers: [{name: x, image: busybox}]}}\n",
			wantErr: "spec.template.spec.containers must be empty: the steps come from spec.containers",
		},
		"restartPolicy OnFailure": {
			reason: "A Job allows OnFailure.",
			spec:   oneStep + "  template: {spec: {restartPolicy: OnFailure}}\n",
		},
		"restartPolicy Always": {
			reason:  "A Job rejects Always; admission says so before any Job is created.",
			spec:    oneStep + "  template: {spec: {restartPolicy: Always}}\n",
			wantErr: "spec.template.spec.restartPolicy must be Never or OnFailure, as a Job requires",
		},
		"unique step names": {
			reason: "Distinct names are accepted.",
			spec:   steps(3),
		},
		"duplicate step names": {
			reason:  "Two steps named alike are rejected with the CEL rule's message.",
			spec:    "  containers: [{name: a, image: busybox}, {name: a, image: alpine}]\n",
			wantErr: "step names (spec.containers[].name) must be unique",
		},
		"name of 60 characters": {
			reason: "60 characters leave room for '-<index>' in a 63-character Job name.",
			name:   strings.Repeat("a", 60),
			spec:   oneStep,
		},
		"name of 61 characters": {
			reason:  "Longer names would not fit the Job names.",
			name:    strings.Repeat("a", 61),
			spec:    oneStep,
			wantErr: "metadata.name must be at most 60 characters, so that the step Job names (<name>-<index>) fit in 63",
		},
		"no steps": {
			reason:  "At least one step.",
			spec:    "  containers: []\n",
			wantErr: "spec.containers: Invalid value: 0: spec.containers in body should have at least 1 items",
		},
		"64 steps": {
			reason: "The bound is inclusive.",
			spec:   steps(64),
		},
		"65 steps": {
			reason:  "List sizes are bounded, which keeps the CEL cost estimate within budget.",
			spec:    steps(65),
			wantErr: "spec.containers: Too many: 65: must have at most 64 items",
		},
		"step name over 63 characters": {
			reason:  "A container name is a DNS label; the bound also prices the unique-names rule.",
			spec:    "  containers: [{name: " + strings.Repeat("a", 64) + ", image: busybox}]\n",
			wantErr: "spec.containers[0].name: Too long: may not be more than 63 bytes",
		},
		"updateStrategy Immutable": {
			reason: "A known strategy.",
			spec:   oneStep + "  updateStrategy: {type: Immutable}\n",
		},
		"updateStrategy unknown": {
			reason:  "Only Continue and Immutable exist.",
			spec:    oneStep + "  updateStrategy: {type: Replace}\n",
			wantErr: `spec.updateStrategy.type: Unsupported value: "Replace": supported values: "Continue", "Immutable"`,
		},
		"step without image": {
			reason:  "A step's Job needs an image; admission says which step lacks one instead of a failed Job later.",
			spec:    "  containers: [{name: a, image: busybox}, {name: b}]\n",
			wantErr: `spec.containers[1].image: Required value: spec.containers[].image is required: every step needs an image, and step "b" has none`,
		},
		"step with empty image": {
			reason:  "An empty image is no image.",
			spec:    "  containers: [{name: a, image: \"\"}]\n",
			wantErr: `spec.containers[0].image: Required value: spec.containers[].image is required: every step needs an image, and step "a" has none`,
		},
		"volumeMount naming a template volume": {
			reason: "Steps mount the volumes the shared template declares.",
			spec: "  containers:\n  - {name: a, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}\n" +
				"  - {name: b, image: busybox}\n" +
				"  template: {spec: {volumes: [{name: data, emptyDir: {}}, {name: cache, emptyDir: {}}]}}\n",
		},
		"volumeMount naming a missing volume": {
			reason: "The step's pod would be rejected when the run reaches it; the message names the step and the mount.",
			spec: "  containers:\n  - {name: a, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}\n" +
				"  - {name: b, image: busybox, volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /tmp}]}\n" +
				"  template: {spec: {volumes: [{name: data, emptyDir: {}}]}}\n",
			wantErr: `spec.containers[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates: step "b" mounts "scratch"`,
		},
		"volumeMount without template volumes": {
			reason:  "Without spec.template.spec.volumes no mount can be satisfied.",
			spec:    "  containers: [{name: a, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]\n",
			wantErr: `spec.containers[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates: step "a" mounts "data"`,
		},
		"largest volumes and mounts the bounds allow": {
			reason: "Every step mounts the most volumes it may, with the longest names: the rule stays within the runtime CEL cost limit per call, so a valid object is never rejected for cost.",
			spec:   volumes(v1alpha1.MaxSteps, v1alpha1.MaxVolumeMounts, v1alpha1.MaxVolumes, v1alpha1.MaxVolumeNameLength, false),
		},
		"largest volumes and mounts the bounds allow, last mount missing": {
			reason:  "The worst case for the rule and its message: both stay within the runtime CEL cost limit per call, and the message still names the step and the mount.",
			spec:    volumes(v1alpha1.MaxSteps, v1alpha1.MaxVolumeMounts, v1alpha1.MaxVolumes, v1alpha1.MaxVolumeNameLength, true),
			wantErr: `spec: Invalid value: spec.containers[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates: step "s63" mounts "missing"`,
		},
		"too many template volumes": {
			reason:  "spec.template.spec.volumes is bounded, which keeps the volumeMounts rule within the CEL cost budget.",
			spec:    volumes(1, 1, v1alpha1.MaxVolumes+1, 8, false),
			wantErr: fmt.Sprintf("spec.template.spec.volumes: Too many: %d: must have at most %d items", v1alpha1.MaxVolumes+1, v1alpha1.MaxVolumes),
		},
		"too many volumeMounts": {
			reason:  "A step's volumeMounts are bounded, which keeps the volumeMounts rule within the CEL cost budget.",
			spec:    volumes(1, v1alpha1.MaxVolumeMounts+1, v1alpha1.MaxVolumeMounts+1, 8, false),
			wantErr: fmt.Sprintf("spec.containers[0].volumeMounts: Too many: %d: must have at most %d items", v1alpha1.MaxVolumeMounts+1, v1alpha1.MaxVolumeMounts),
		},
		"volume name over 63 characters": {
			reason:  "A volume name is a DNS label; the bound also prices the volumeMounts rule.",
			spec:    volumes(1, 1, 1, v1alpha1.MaxVolumeNameLength+1, false),
			wantErr: "spec.template.spec.volumes[0].name: Too long: may not be more than 63 bytes",
		},
		"too many init containers": {
			reason:  "The template's initContainers are bounded, which keeps the Immutable rule within the CEL cost budget.",
			spec:    oneStep + "  template: {spec: {initContainers: [" + initContainers(v1alpha1.MaxInitContainers+1) + "]}}\n",
			wantErr: fmt.Sprintf("spec.template.spec.initContainers: Too many: %d: must have at most %d items", v1alpha1.MaxInitContainers+1, v1alpha1.MaxInitContainers),
		},
		"step settings, finally, run controls: all accepted": {
			reason: "Every step-control field at once, as a user writes it.",
			spec: "  containers: [{name: build, image: busybox}, {name: lint, image: busybox}]\n" +
				"  finally: [{name: notify, image: busybox}]\n" +
				"  podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget, status: 'True'}]}]}\n" +
				"  stepSettings:\n" +
				"  - {name: build, backoffLimit: 0, activeDeadlineSeconds: 600, podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}}\n" +
				"  - {name: lint, onFailure: Continue}\n" +
				"  - {name: notify, backoffLimit: 2}\n" +
				"  suspend: false\n  runDeadlineSeconds: 3600\n  retryToken: '2026-11-26'\n  ttlSecondsAfterFinished: 86400\n",
		},
		"step settings for an unknown step": {
			reason:  "A setting must name a step of containers or finally: a typo would otherwise be silently ignored.",
			spec:    oneStep + "  stepSettings: [{name: bulid, backoffLimit: 1}]\n",
			wantErr: `spec.stepSettings[].name must name a step of spec.containers or spec.finally, and "bulid" names none`,
		},
		"approval gate, approved": {
			reason: "An approval gate on a step, and its approval from one or more approvers (a list set).",
			spec: "  containers: [{name: build, image: busybox}, {name: deploy, image: busybox}]\n" +
				"  stepSettings: [{name: deploy, approval: Required}]\n  approvedSteps: [deploy]\n",
		},
		"approval gate, not yet approved": {
			reason: "A gate without an approval is valid: the run waits at it.",
			spec:   "  containers: [{name: build, image: busybox}, {name: deploy, image: busybox}]\n  stepSettings: [{name: deploy, approval: Required}]\n",
		},
		"approval: unknown value": {
			reason:  "approval is an enum: Required, or left out.",
			spec:    oneStep + "  stepSettings: [{name: a, approval: Optional}]\n",
			wantErr: `spec.stepSettings[0].approval: Unsupported value: "Optional": supported values: "Required"`,
		},
		"approved step without a gate": {
			reason: "An approval for a step that has no gate would do nothing, and is most likely a typo or a gate removed by mistake.",
			spec: "  containers: [{name: build, image: busybox}, {name: deploy, image: busybox}]\n" +
				"  stepSettings: [{name: deploy, approval: Required}]\n  approvedSteps: [deploy, build]\n",
			wantErr: `spec.approvedSteps[] must name a step whose stepSettings have approval: Required, and "build" has no approval gate`,
		},
		"approved unknown step": {
			reason:  "An approval must name a gated step; with no stepSettings at all, none is.",
			spec:    oneStep + "  approvedSteps: [deploy]\n",
			wantErr: `spec.approvedSteps[] must name a step whose stepSettings have approval: Required, and "deploy" has no approval gate`,
		},
		"approved twice": {
			reason:  "approvedSteps is a list set: each step at most once (approvers share an entry through server-side apply).",
			spec:    oneStep + "  stepSettings: [{name: a, approval: Required}]\n  approvedSteps: [a, a]\n",
			wantErr: `spec.approvedSteps[1]: Duplicate value: "a"`,
		},
		"approval gate on a finally step": {
			reason:  "A finally step runs whatever happened to the steps, often to clean up: holding it for a person would hold the cleanup.",
			spec:    oneStep + "  finally: [{name: notify, image: busybox}]\n  stepSettings: [{name: notify, approval: Required}]\n",
			wantErr: `spec.stepSettings[].approval gates only steps of spec.containers: a finally step runs whatever happened, so it takes no approval, and "notify" is a finally step`,
		},
		"step settings: onFailure not Stop or Continue": {
			reason:  "onFailure is an enum.",
			spec:    oneStep + "  stepSettings: [{name: a, onFailure: Ignore}]\n",
			wantErr: `spec.stepSettings[0].onFailure: Unsupported value: "Ignore": supported values: "Stop", "Continue"`,
		},
		"step settings: negative backoffLimit": {
			reason:  "A step's backoffLimit follows the Job's bounds.",
			spec:    oneStep + "  stepSettings: [{name: a, backoffLimit: -1}]\n",
			wantErr: "spec.stepSettings[0].backoffLimit in body should be greater than or equal to 0",
		},
		"step settings: zero activeDeadlineSeconds": {
			reason:  "A step's activeDeadlineSeconds follows the Job's bounds.",
			spec:    oneStep + "  stepSettings: [{name: a, activeDeadlineSeconds: 0}]\n",
			wantErr: "spec.stepSettings[0].activeDeadlineSeconds in body should be greater than or equal to 1",
		},
		"step settings: when": {
			reason: "A when is a CEL expression the controller checks; the CRD only bounds it.",
			spec: "  containers: [{name: build, image: busybox}, {name: deploy, image: busybox}]\n  finally: [{name: notify, image: busybox}]\n" +
				"  stepSettings: [{name: deploy, when: \"steps.build.result != 'none'\"}, {name: notify, when: run.failed}]\n",
		},
		"step settings: empty when": {
			reason:  "An empty when is refused: leave the field out to always run the step.",
			spec:    oneStep + "  stepSettings: [{name: a, when: ''}]\n",
			wantErr: "spec.stepSettings[0].when in body should be at least 1 chars long",
		},
		"step settings: blank when": {
			reason:  "A when of spaces only is no expression.",
			spec:    oneStep + "  stepSettings: [{name: a, when: '   '}]\n",
			wantErr: "spec.stepSettings[0].when: Invalid value: \"   \": spec.stepSettings[].when must not be blank: it is a CEL expression such as steps.build.phase == 'Succeeded'; leave it out to always run the step",
		},
		"step settings: when too long": {
			reason:  "A when is bounded (MaxWhenLength), which bounds the controller's work to compile it.",
			spec:    oneStep + "  stepSettings: [{name: a, when: '" + strings.Repeat("true && ", 128) + "true'}]\n",
			wantErr: "spec.stepSettings[0].when: Too long: may not be more than 1024 bytes",
		},
		"step settings: one step twice": {
			reason:  "Settings are keyed by step name.",
			spec:    oneStep + "  stepSettings: [{name: a, backoffLimit: 1}, {name: a, backoffLimit: 2}]\n",
			wantErr: `spec.stepSettings[1]: Duplicate value: {"name":"a"}`,
		},
		"podFailurePolicy with restartPolicy OnFailure": {
			reason:  "A Job with a podFailurePolicy needs restartPolicy Never; admission says so instead of the Job's creation.",
			spec:    oneStep + "  template: {spec: {restartPolicy: OnFailure}}\n  stepSettings: [{name: a, podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}}]\n",
			wantErr: "a podFailurePolicy needs spec.template.spec.restartPolicy Never (or unset), as a Job requires",
		},
		"podFailurePolicy with more than 20 rules": {
			reason:  "The Job API's own bound, which also keeps the Immutable rule within the CEL cost budget.",
			spec:    oneStep + "  podFailurePolicy: {rules: [" + strings.TrimSuffix(strings.Repeat("{action: Ignore, onExitCodes: {operator: In, values: [1]}}, ", 21), ", ") + "]}\n",
			wantErr: "spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items",
		},
		"finally step named like a step": {
			reason:  "A step's name is its identity across both lists.",
			spec:    oneStep + "  finally: [{name: a, image: busybox}]\n",
			wantErr: `spec.finally[].name must differ from every spec.containers[].name: a step's name is its identity, and "a" is in both`,
		},
		"finally step without an image": {
			reason:  "Every step needs an image, finally ones too.",
			spec:    oneStep + "  finally: [{name: z}]\n",
			wantErr: `spec.finally[0].image: Required value: spec.finally[].image is required: every step needs an image, and finally step "z" has none`,
		},
		"finally step mounts a volume the template lacks": {
			reason:  "As for the steps, a mount must name a template volume.",
			spec:    oneStep + "  finally: [{name: z, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]\n",
			wantErr: "spec.finally[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates",
		},
		"too many finally steps": {
			reason:  "spec.finally is bounded (MaxFinallySteps).",
			spec:    oneStep + "  finally: [" + strings.TrimSuffix(finallySteps(v1alpha1.MaxFinallySteps+1), ", ") + "]\n",
			wantErr: fmt.Sprintf("spec.finally: Too many: %d: must have at most %d items", v1alpha1.MaxFinallySteps+1, v1alpha1.MaxFinallySteps),
		},
		"zero runDeadlineSeconds": {
			reason:  "A run deadline is at least a second.",
			spec:    oneStep + "  runDeadlineSeconds: 0\n",
			wantErr: "spec.runDeadlineSeconds in body should be greater than or equal to 1",
		},
		"negative ttlSecondsAfterFinished": {
			reason:  "As a Job's: 0 deletes at once, less is meaningless.",
			spec:    oneStep + "  ttlSecondsAfterFinished: -1\n",
			wantErr: "spec.ttlSecondsAfterFinished in body should be greater than or equal to 0",
		},
		"retryToken over 63 characters": {
			reason:  "The token is bounded (MaxRetryTokenLength).",
			spec:    oneStep + "  retryToken: " + strings.Repeat("r", v1alpha1.MaxRetryTokenLength+1) + "\n",
			wantErr: "spec.retryToken: Too long: may not be more than 63 bytes",
		},
		"retryFrom names a step": {
			reason: "A retry may start from any step of spec.containers.",
			spec:   "  containers: [{name: a, image: busybox}, {name: b, image: busybox}]\n  retryToken: again\n  retryFrom: b\n",
		},
		"retryFrom names no step": {
			reason:  "A misspelt step would retry nothing the user meant: rejected, naming the value.",
			spec:    oneStep + "  retryFrom: bulid\n",
			wantErr: `spec.retryFrom: Invalid value: spec.retryFrom must name a step of spec.containers, and "bulid" names none`,
		},
		"retryFrom names a finally step": {
			reason:  "The finally steps run again on every retry, so a retry cannot start among them.",
			spec:    oneStep + "  finally: [{name: z, image: busybox}]\n  retryFrom: z\n",
			wantErr: `spec.retryFrom: Invalid value: spec.retryFrom must name a step of spec.containers, and "z" is a finally step: the finally steps run again on every retry`,
		},
		"retryFrom over 63 characters": {
			reason:  "A step name is at most 63 characters, and so is retryFrom.",
			spec:    oneStep + "  retryFrom: " + strings.Repeat("r", 64) + "\n",
			wantErr: "spec.retryFrom: Too long: may not be more than 63 bytes",
		},
		"suspend not a boolean": {
			reason:  "suspend is a boolean.",
			spec:    oneStep + "  suspend: maybe\n",
			wantErr: `spec.suspend: Invalid value: "string": spec.suspend in body must be of type boolean`,
		},
		"jobManagedBy MultiKueue": {
			reason: "MultiKueue runs the step Jobs on worker clusters.",
			spec:   oneStep + "  jobManagedBy: kueue.x-k8s.io/multikueue\n",
		},
		"jobManagedBy not a domain-prefixed path": {
			reason:  "A Job's spec.managedBy is a domain-prefixed path; the run would fail at its first step otherwise.",
			spec:    oneStep + "  jobManagedBy: multikueue\n",
			wantErr: "spec.jobManagedBy must be a domain-prefixed path, such as kueue.x-k8s.io/multikueue, as a Job's spec.managedBy",
		},
		"image with a trailing space": {
			reason:  "Kubernetes checks an image's whitespace on pods only: the step's Job would be created and its pods refused for ever.",
			spec:    "  containers: [{name: a, image: 'busybox '}]\n",
			wantErr: "spec.containers[0].image: Invalid value: spec.containers[].image must not have leading or trailing whitespace: no image by that name can be pulled",
		},
		"step container restartPolicy Always": {
			reason:  "A container restarted even after it succeeds never lets its Job complete.",
			spec:    "  containers: [{name: a, image: busybox, restartPolicy: Always}]\n",
			wantErr: "spec.containers[].restartPolicy must not be Always: a step must end for the next one to start",
		},
		"stepTemplate with container defaults": {
			reason: "A step template is a container without name and image: the Container schema's required name must not reject it.",
			spec: oneStep +
				"  stepTemplate:\n" +
				"    env: [{name: MODE, value: fast}]\n" +
				"    envFrom: [{configMapRef: {name: settings}}]\n" +
				"    volumeMounts: [{name: data, mountPath: /data}]\n" +
				"    resources: {requests: {cpu: 100m, memory: 64Mi}}\n" +
				"    securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false}\n" +
				"    workingDir: /data\n" +
				"  template: {spec: {volumes: [{name: data, emptyDir: {}}]}}\n",
		},
		"stepTemplate with an empty name": {
			reason: "Typed Go clients serialise a corev1.Container's name even when empty: that is no name.",
			spec:   oneStep + "  stepTemplate: {name: \"\", workingDir: /w}\n",
		},
		"stepTemplate with a name": {
			reason:  "Each step is named by its own container; a template's name would name no step.",
			spec:    oneStep + "  stepTemplate: {name: shared}\n",
			wantErr: "spec.stepTemplate.name: Forbidden: spec.stepTemplate.name must not be set: each step is named by its own container",
		},
		"stepTemplate with an image": {
			reason:  "Every step names its own image (and the CRD requires it), so a template image would never be used.",
			spec:    oneStep + "  stepTemplate: {image: busybox}\n",
			wantErr: "spec.stepTemplate.image: Forbidden: spec.stepTemplate.image must not be set: every step names its own image",
		},
		"stepTemplate restartPolicy Always": {
			reason:  "Merged into every step, it would keep every step's container running for ever.",
			spec:    oneStep + "  stepTemplate: {restartPolicy: Always}\n",
			wantErr: "spec.stepTemplate.restartPolicy must not be Always: a step must end for the next one to start",
		},
		"stepTemplate volumeMount naming a missing volume": {
			reason:  "Merged into every step, the mount would make every step's pod invalid.",
			spec:    oneStep + "  stepTemplate: {volumeMounts: [{name: cache, mountPath: /cache}]}\n  template: {spec: {volumes: [{name: data, emptyDir: {}}]}}\n",
			wantErr: "spec.stepTemplate.volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates",
		},
		"stepTemplate with too many volumeMounts": {
			reason:  "The template's mounts are bounded as a step's are, for the volumeMounts rule's CEL cost.",
			spec:    oneStep + "  stepTemplate: {volumeMounts: [" + strings.TrimSuffix(strings.Repeat("{name: v, mountPath: /m}, ", v1alpha1.MaxVolumeMounts+1), ", ") + "]}\n",
			wantErr: fmt.Sprintf("spec.stepTemplate.volumeMounts: Too many: %d: must have at most %d items", v1alpha1.MaxVolumeMounts+1, v1alpha1.MaxVolumeMounts),
		},
		"volumeMount naming a claim template": {
			reason: "Steps, finally steps and the stepTemplate mount a claim template by its name.",
			spec: "  containers: [{name: a, image: busybox, volumeMounts: [{name: ws, mountPath: /ws}]}]\n" +
				"  finally: [{name: z, image: busybox, volumeMounts: [{name: ws, mountPath: /ws}]}]\n" +
				"  stepTemplate: {volumeMounts: [{name: ws, mountPath: /ws}]}\n" +
				"  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n  volumeClaimRetention: {whenFinished: Retain}\n",
		},
		"volumeMount naming a claim template and a template volume": {
			reason: "Claim templates join the template's volumes; both may be mounted.",
			spec: "  containers: [{name: a, image: busybox, volumeMounts: [{name: ws, mountPath: /ws}, {name: data, mountPath: /data}]}]\n" +
				"  template: {spec: {volumes: [{name: data, emptyDir: {}}]}}\n  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n",
		},
		"claim template named like a template volume": {
			reason:  "A step mounts both by name: the pod would have two volumes of one name.",
			spec:    oneStep + "  template: {spec: {volumes: [{name: ws, emptyDir: {}}]}}\n  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n",
			wantErr: `spec.volumeClaimTemplates[].name must differ from every spec.template.spec.volumes[].name: steps mount both by name, and "ws" is in both`,
		},
		"duplicate claim template names": {
			reason:  "volumeClaimTemplates is keyed by name.",
			spec:    oneStep + "  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}, {name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n",
			wantErr: "spec.volumeClaimTemplates[1]: Duplicate value",
		},
		"claim name over 63 characters": {
			reason:  "The claim is <run>-<name>; a longer name would be refused when the run starts.",
			name:    strings.Repeat("r", 50),
			spec:    oneStep + "  volumeClaimTemplates: [{name: workspace-cache, spec: {resources: {requests: {storage: 1Gi}}}}]\n",
			wantErr: "each volume claim's name (<metadata.name>-<spec.volumeClaimTemplates[].name>) must be at most 63 characters",
		},
		"claim name of 63 characters": {
			reason: "At the limit: <run>-<name> is exactly 63 characters.",
			name:   strings.Repeat("r", 47),
			spec:   oneStep + "  volumeClaimTemplates: [{name: workspace-cache, spec: {resources: {requests: {storage: 1Gi}}}}]\n",
		},
		"claim template name not a DNS label": {
			reason:  "The name is a pod volume name and part of the claim's name.",
			spec:    oneStep + "  volumeClaimTemplates: [{name: Work_Space, spec: {}}]\n",
			wantErr: "spec.volumeClaimTemplates[0].name in body should match",
		},
		"too many claim templates": {
			reason:  "volumeClaimTemplates is bounded, for the volumeMounts rules' CEL cost.",
			spec:    oneStep + "  volumeClaimTemplates: [" + claims(v1alpha1.MaxVolumeClaimTemplates+1) + "]\n",
			wantErr: fmt.Sprintf("spec.volumeClaimTemplates: Too many: %d: must have at most %d items", v1alpha1.MaxVolumeClaimTemplates+1, v1alpha1.MaxVolumeClaimTemplates),
		},
		"claim retention unknown": {
			reason:  "Only Delete and Retain exist.",
			spec:    oneStep + "  volumeClaimRetention: {whenFinished: Keep}\n",
			wantErr: `spec.volumeClaimRetention.whenFinished: Unsupported value: "Keep": supported values: "Delete", "Retain"`,
		},
		"negative backoffLimit": {
			reason:  "backoffLimit follows the Job's bounds.",
			spec:    oneStep + "  backoffLimit: -1\n",
			wantErr: "spec.backoffLimit in body should be greater than or equal to 0",
		},
	}
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			objName := tc.name
			if objName == "" {
				objName = "sj"
			}
			problems := schema.Admit(object(t, objName, tc.spec))
			if tc.wantErr == "" {
				assert.Empty(t, problems)
				return
			}
			assert.Contains(t, strings.Join(problems, "\n"), tc.wantErr)
		})
	}
}

// TestCRDPassesAPIExtensionsValidation: the CRD is accepted as the apiserver
// would accept it, including the CEL cost budget for every rule.
func TestCRDPassesAPIExtensionsValidation(t *testing.T) {
	var v1 apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(crd.SequentialJobs, &v1))
	var internal apiextensionsinternal.CustomResourceDefinition
	require.NoError(t, apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil))
	// The apiserver records the storage version before it validates a new CRD.
	internal.Status.StoredVersions = []string{"v1alpha1"}
	errs := apiextensionsvalidation.ValidateCustomResourceDefinition(context.Background(), &internal)
	assert.Empty(t, errs.ToAggregate())
}

// Run statuses for TestCRDUpdateRules: as the controller writes them, and
// partial ones that each show one sign of a started run on its own.
const (
	neverReconciled = ""
	notStarted      = "{observedGeneration: 1, phase: Pending, steps: [{name: a, jobName: sj-0, phase: Pending}, {name: b, jobName: sj-1, phase: Pending}]}"
	firstStepRuns   = "{observedGeneration: 1, phase: Running, startTime: '2026-01-02T03:04:05Z', steps: [{name: a, jobName: sj-0, phase: Running, startTime: '2026-01-02T03:04:05Z'}, {name: b, jobName: sj-1, phase: Pending}]}"
	secondStepRuns  = "{observedGeneration: 1, phase: Running, startTime: '2026-01-02T03:04:05Z', steps: [{name: a, jobName: sj-0, phase: Succeeded, startTime: '2026-01-02T03:04:05Z'}, {name: b, jobName: sj-1, phase: Running, startTime: '2026-01-02T03:05:05Z'}]}"
	startTimeOnly   = "{startTime: '2026-01-02T03:04:05Z'}"
	stepRecordOnly  = "{steps: [{name: a, jobName: sj-0, phase: Failed}]}"
)

// Specs for TestCRDUpdateRules: two steps, a and b.
const (
	immutable        = "  updateStrategy: {type: Immutable}\n  containers: [{name: a, image: busybox}, {name: b, image: busybox}]\n"
	immutableEdited  = "  updateStrategy: {type: Immutable}\n  containers: [{name: a, image: busybox}, {name: b, image: alpine}]\n"
	immutableReorder = "  updateStrategy: {type: Immutable}\n  containers: [{name: b, image: busybox}, {name: a, image: busybox}]\n"
	continues        = "  updateStrategy: {type: Continue}\n  containers: [{name: a, image: busybox}, {name: b, image: busybox}]\n"
	continuesEdited  = "  updateStrategy: {type: Continue}\n  containers: [{name: a, image: busybox}, {name: b, image: alpine}]\n"
	inits            = "  template: {spec: {initContainers: [{name: fetch, image: busybox}, {name: unpack, image: busybox}]}}\n"
	initsReordered   = "  template: {spec: {initContainers: [{name: unpack, image: busybox}, {name: fetch, image: busybox}]}}\n"
)

const claimSpecMessage = "spec.volumeClaimTemplates: Forbidden: spec.volumeClaimTemplates[].spec cannot change once the run has started: its claim exists and the spec of a claim is immutable; add a template under a new name, or delete and re-create the SequentialJob"

// workspace is one claim template "ws" of the given size.
func workspace(size string) string {
	return "  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: " + size + "}}}}]\n"
}

const immutableMessage = "spec: Forbidden: spec is immutable: spec.updateStrategy.type is Immutable and the first step has started; delete and re-create the SequentialJob to run a different spec"

// TestCRDUpdateRules runs the rules that compare an update with the stored
// object (oldSelf) through the generated CRD, as the apiserver does on
// update. No ValidatingAdmissionPolicy is involved: spec.updateStrategy.type
// Immutable holds with the CRD alone.
func TestCRDUpdateRules(t *testing.T) {
	cases := map[string]struct {
		reason    string
		oldSpec   string
		oldStatus string
		newSpec   string // empty: oldSpec
		newStatus string // empty: oldStatus
		newLabels map[string]string
		wantErr   string // empty: accepted
	}{
		"Immutable, started: spec change": {
			reason:    "Once the first step has started, an Immutable run's spec cannot change.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutableEdited,
			wantErr:   immutableMessage,
		},
		"Immutable, started: steps reordered": {
			reason:    "CEL compares list-type=map lists regardless of order, but the order of the steps is the run's order: the rule compares it too.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutableReorder,
			wantErr:   immutableMessage,
		},
		"Immutable, started: template init containers reordered": {
			reason:    "Init containers run in list order too.",
			oldSpec:   immutable + inits,
			oldStatus: firstStepRuns,
			newSpec:   immutable + initsReordered,
			wantErr:   immutableMessage,
		},
		"Immutable, started: metadata-only change": {
			reason:    "Labels and the controller's finalizer change metadata only; spec stays equal.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newLabels: map[string]string{"team": "data"},
		},
		"Immutable, started: status write": {
			reason:    "The controller records progress through the status subresource, which keeps spec.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newStatus: secondStepRuns,
		},
		"Immutable, started: same spec applied again": {
			reason:    "A GitOps sync that re-applies the same file changes nothing.",
			oldSpec:   immutable,
			oldStatus: secondStepRuns,
			newSpec:   immutable,
		},
		"Immutable, not started: spec change": {
			reason:    "Until a step has started, the spec may change (status records only Pending steps).",
			oldSpec:   immutable,
			oldStatus: notStarted,
			newSpec:   immutableEdited,
		},
		"Immutable, never reconciled: spec change": {
			reason:    "No status yet (only the default observedGeneration 0): not started.",
			oldSpec:   immutable,
			oldStatus: neverReconciled,
			newSpec:   immutableEdited,
		},
		"Immutable, started per startTime only: spec change": {
			reason:    "status.startTime alone means started, as in the VAP's started variable.",
			oldSpec:   immutable,
			oldStatus: startTimeOnly,
			newSpec:   immutableEdited,
			wantErr:   immutableMessage,
		},
		"Immutable, started per a step record only: spec change": {
			reason:    "A step whose phase is not Pending means started, as in the VAP's started variable.",
			oldSpec:   immutable,
			oldStatus: stepRecordOnly,
			newSpec:   immutableEdited,
			wantErr:   immutableMessage,
		},
		"Continue, started: claim template spec changed": {
			reason:    "The run's claim exists once a step started, and a claim's spec cannot change: the edit is refused at admission, not left to fail the apply.",
			oldSpec:   continues + workspace("1Gi"),
			oldStatus: firstStepRuns,
			newSpec:   continues + workspace("2Gi"),
			wantErr:   claimSpecMessage,
		},
		"Continue, not started: claim template spec changed": {
			reason:    "Before any step started no claim exists: the template may change.",
			oldSpec:   continues + workspace("1Gi"),
			oldStatus: notStarted,
			newSpec:   continues + workspace("2Gi"),
		},
		"Continue, started: claim template added": {
			reason:    "A new template is a new claim, created before the next step.",
			oldSpec:   continues,
			oldStatus: firstStepRuns,
			newSpec:   continues + workspace("1Gi"),
		},
		"Continue, started: claim template labels changed": {
			reason:    "Only the claim's spec is frozen; its labels and annotations may change.",
			oldSpec:   continues + workspace("1Gi"),
			oldStatus: firstStepRuns,
			newSpec:   continues + "  volumeClaimTemplates: [{name: ws, metadata: {labels: {team: data}}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n",
		},
		"Continue, started: spec change": {
			reason:    "Continue lets the steps that have not started follow the new spec.",
			oldSpec:   continues,
			oldStatus: firstStepRuns,
			newSpec:   continuesEdited,
		},
		"Immutable to Continue with a spec change, started": {
			reason:    "The old object's strategy decides, so one update cannot switch to Continue and change the spec too.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   continuesEdited,
			wantErr:   immutableMessage,
		},
		"Immutable to Continue alone, started": {
			reason:    "The strategy is part of the spec: a started Immutable run stays Immutable.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   continues,
			wantErr:   immutableMessage,
		},
		"Immutable, started: suspend": {
			reason:    "spec.suspend is a run control: an Immutable run can be suspended and resumed.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  suspend: true\n",
		},
		"Immutable, started: retry": {
			reason:    "spec.retryToken is a run control: an Immutable run can be retried, with the spec it ran.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  retryToken: again\n",
		},
		"Immutable, started: ttlSecondsAfterFinished": {
			reason:    "How long a finished run is kept changes nothing it runs.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  ttlSecondsAfterFinished: 60\n",
		},
		"Immutable, started: finally step added": {
			reason:    "The finally steps are part of what the run runs.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  finally: [{name: z, image: busybox}]\n",
			wantErr:   immutableMessage,
		},
		"Immutable, started: step settings changed": {
			reason:    "A step's settings are part of what the run runs.",
			oldSpec:   immutable + "  stepSettings: [{name: b, backoffLimit: 1}]\n",
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  stepSettings: [{name: b, backoffLimit: 2}]\n",
			wantErr:   immutableMessage,
		},
		"Immutable, started: run deadline changed": {
			reason:    "The run deadline is part of the spec the run was started with.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  runDeadlineSeconds: 60\n",
			wantErr:   immutableMessage,
		},
		"Immutable, started: finally steps reordered": {
			reason:    "Finally steps run in list order, which CEL's list-map equality ignores: the rule compares their names in order.",
			oldSpec:   immutable + "  finally: [{name: notify, image: busybox}, {name: cleanup, image: busybox}]\n",
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  finally: [{name: cleanup, image: busybox}, {name: notify, image: busybox}]\n",
			wantErr:   immutableMessage,
		},
		"Immutable, started: jobManagedBy changed": {
			reason:    "Who runs the step Jobs is part of what the run runs.",
			oldSpec:   immutable,
			oldStatus: firstStepRuns,
			newSpec:   immutable + "  jobManagedBy: kueue.x-k8s.io/multikueue\n",
			wantErr:   immutableMessage,
		},
		"Continue to Immutable, started": {
			reason:    "The old strategy, Continue, allows the change; later edits are then rejected.",
			oldSpec:   continues,
			oldStatus: firstStepRuns,
			newSpec:   immutable,
		},
	}
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			old := stored(t, schema, tc.oldSpec, tc.oldStatus)

			obj := object(t, "sj", tc.oldSpec)
			if tc.newSpec != "" {
				obj = object(t, "sj", tc.newSpec)
			}
			obj["status"] = old["status"]
			if tc.newStatus != "" {
				obj["status"] = status(t, tc.newStatus)
			}
			u := unstructured.Unstructured{Object: obj}
			u.SetLabels(tc.newLabels)

			problems := schema.AdmitUpdate(obj, old)
			if tc.wantErr == "" {
				assert.Empty(t, problems, tc.reason)
				return
			}
			assert.Contains(t, strings.Join(problems, "\n"), tc.wantErr, tc.reason)
		})
	}
}

// stored is the SequentialJob with spec and status (YAML; empty: none) as
// the apiserver stores and returns it: admitted, pruned and defaulted.
func stored(t *testing.T, schema *crd.Schema, spec, statusYAML string) map[string]any {
	t.Helper()
	obj := object(t, "sj", spec)
	if statusYAML != "" {
		obj["status"] = status(t, statusYAML)
	}
	require.Empty(t, schema.Admit(obj), "the stored object must be valid")
	return obj
}

func status(t *testing.T, doc string) map[string]any {
	t.Helper()
	var s map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(doc), &s))
	return s
}

// TestExamplesAreAccepted: every file users apply from examples/ passes the
// CRD's schema and rules.
func TestExamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	schemas := map[string]func() (*crd.Schema, error){"SequentialJob": crd.LoadSchema, "SequentialCronJob": crd.LoadCronSchema}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			var obj map[string]any
			require.NoError(t, yaml.Unmarshal(data, &obj))
			load, ok := schemas[fmt.Sprint(obj["kind"])]
			require.True(t, ok, "an example of an unknown kind %v", obj["kind"])
			schema, err := load()
			require.NoError(t, err)
			if _, ok := obj["metadata"].(map[string]any)["namespace"]; !ok {
				obj["metadata"].(map[string]any)["namespace"] = "default"
			}
			assert.Empty(t, schema.Admit(obj))
		})
	}
}

// TestCRDBoundsMatchConstants: kubebuilder markers and the kustomize
// patches cannot reference the size limits of package v1alpha1, so they
// repeat the numbers; the generated CRD must agree with the constants.
func TestCRDBoundsMatchConstants(t *testing.T) {
	var v1 apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(crd.SequentialJobs, &v1))
	root := v1.Spec.Versions[0].Schema.OpenAPIV3Schema
	// at walks properties; "[]" steps into a list's items.
	at := func(path ...string) apiextensionsv1.JSONSchemaProps {
		t.Helper()
		s := *root
		for _, p := range path {
			if p == "[]" {
				require.NotNil(t, s.Items, "%v", path)
				s = *s.Items.Schema
				continue
			}
			next, ok := s.Properties[p]
			require.True(t, ok, "no %q in %v", p, path)
			s = next
		}
		return s
	}
	maxItems := func(path ...string) int64 {
		t.Helper()
		s := at(path...)
		require.NotNil(t, s.MaxItems, "no maxItems at %v", path)
		return *s.MaxItems
	}
	maxLength := func(path ...string) int64 {
		t.Helper()
		s := at(path...)
		require.NotNil(t, s.MaxLength, "no maxLength at %v", path)
		return *s.MaxLength
	}
	assert.EqualValues(t, v1alpha1.MaxSteps, maxItems("spec", "containers"))
	assert.EqualValues(t, v1alpha1.MaxStepNameLength, maxLength("spec", "containers", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxRecordedSteps, maxItems("status", "steps"))
	assert.EqualValues(t, v1alpha1.MaxVolumes, maxItems("spec", "template", "spec", "volumes"))
	assert.EqualValues(t, v1alpha1.MaxVolumeNameLength, maxLength("spec", "template", "spec", "volumes", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxVolumeMounts, maxItems("spec", "containers", "[]", "volumeMounts"))
	assert.EqualValues(t, v1alpha1.MaxVolumeNameLength, maxLength("spec", "containers", "[]", "volumeMounts", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxInitContainers, maxItems("spec", "template", "spec", "initContainers"))
	assert.EqualValues(t, v1alpha1.MaxFinallySteps, maxItems("spec", "finally"))
	assert.EqualValues(t, v1alpha1.MaxImageLength, maxLength("spec", "containers", "[]", "image"))
	assert.EqualValues(t, v1alpha1.MaxImageLength, maxLength("spec", "finally", "[]", "image"))
	assert.EqualValues(t, v1alpha1.MaxStepNameLength, maxLength("spec", "finally", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxVolumeMounts, maxItems("spec", "finally", "[]", "volumeMounts"))
	assert.EqualValues(t, v1alpha1.MaxVolumeMounts, maxItems("spec", "stepTemplate", "volumeMounts"))
	assert.EqualValues(t, v1alpha1.MaxVolumeNameLength, maxLength("spec", "stepTemplate", "volumeMounts", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxImageLength, maxLength("spec", "stepTemplate", "image"))
	assert.EqualValues(t, v1alpha1.MaxStepSettings, maxItems("spec", "stepSettings"))
	assert.EqualValues(t, v1alpha1.MaxStepNameLength, maxLength("spec", "stepSettings", "[]", "name"))
	assert.EqualValues(t, v1alpha1.MaxRetryTokenLength, maxLength("spec", "retryToken"))
	assert.EqualValues(t, v1alpha1.MaxSteps, maxItems("spec", "approvedSteps"))
	assert.EqualValues(t, v1alpha1.MaxStepNameLength, maxLength("spec", "approvedSteps", "[]"))
	assert.EqualValues(t, v1alpha1.MaxWhenLength, maxLength("spec", "stepSettings", "[]", "when"))
	assert.EqualValues(t, v1alpha1.MaxRecordedFinallySteps, maxItems("status", "finally"))
	assert.EqualValues(t, v1alpha1.MaxPreviousAttempts, maxItems("status", "steps", "[]", "previousAttempts"))
	assert.EqualValues(t, v1alpha1.MaxResultLength, maxLength("status", "steps", "[]", "result"))
	var rules []string
	for _, r := range root.XValidations {
		rules = append(rules, r.Rule)
	}
	assert.Contains(t, rules, fmt.Sprintf("size(self.metadata.name) <= %d", v1alpha1.MaxNameLength))
}

// claims is n claim templates named w0, w1, ...
func claims(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("{name: w%d, spec: {}}", i)
	}
	return strings.Join(out, ", ")
}
