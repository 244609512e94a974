package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The volumeMounts rule below (explained here, outside the doc comment, which
// becomes the CRD's description): every volumeMount of a step names a volume
// of the shared template, or the step Job's pod would be rejected only once
// the run reaches that step. The patches in config/crd/patches bound the lists
// and names (MaxVolumes, MaxVolumeMounts, MaxVolumeNameLength) so that the
// rule fits the CEL cost budget, both the apiserver's estimate and the
// runtime limit per call for the largest object the bounds allow.
// Its message names the first such step and mount. CEL here has no cel.bind,
// so the message binds values with the idiom `[value].map(name, ...)[0]`: the
// template's volume names (vn) are listed once, and the step (step) is found
// in one pass before its mounts are searched, which keeps the message within
// the runtime limit too.

// SequentialJobSpec is the list of steps to run one after another.
//
// +kubebuilder:validation:XValidation:rule="self.containers.all(c, self.containers.exists_one(d, d.name == c.name))",message="step names (spec.containers[].name) must be unique"
// +kubebuilder:validation:XValidation:rule="!has(self.template) || !has(self.template.spec) || !has(self.template.spec.containers) || size(self.template.spec.containers) == 0",message="spec.template.spec.containers must be empty: the steps come from spec.containers"
// +kubebuilder:validation:XValidation:rule="!has(self.template) || !has(self.template.spec) || !has(self.template.spec.restartPolicy) || self.template.spec.restartPolicy in ['Never', 'OnFailure']",message="spec.template.spec.restartPolicy must be Never or OnFailure, as a Job requires"
// +kubebuilder:validation:XValidation:rule="self.containers.all(c, !has(c.volumeMounts) || sets.contains(((has(self.template) && has(self.template.spec) && has(self.template.spec.volumes) ? self.template.spec.volumes.map(v, v.name) : []) + (has(self.volumeClaimTemplates) ? self.volumeClaimTemplates.map(t, t.name) : [])), c.volumeMounts.map(m, m.name)))",message="spec.containers[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates",messageExpression=`[((has(self.template) && has(self.template.spec) && has(self.template.spec.volumes) ? self.template.spec.volumes.map(v, v.name) : []) + (has(self.volumeClaimTemplates) ? self.volumeClaimTemplates.map(t, t.name) : []))].map(vn, [self.containers.map(c, has(c.volumeMounts) && !sets.contains(vn, c.volumeMounts.map(m, m.name)), c.name)[0]].map(step, 'spec.containers[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates: step "' + step + '" mounts "' + self.containers.map(c, c.name == step, c.volumeMounts.map(m, !(m.name in vn), m.name)[0])[0] + '"')[0])[0]`
// +kubebuilder:validation:XValidation:rule="!has(self.finally) || self.finally.all(f, !self.containers.exists(c, c.name == f.name))",message="spec.finally[].name must differ from every spec.containers[].name: a step's name is its identity",messageExpression=`'spec.finally[].name must differ from every spec.containers[].name: a step\'s name is its identity, and "' + self.finally.map(f, f.name).filter(n, self.containers.exists(c, c.name == n))[0] + '" is in both'`
// +kubebuilder:validation:XValidation:rule="!has(self.stepSettings) || self.stepSettings.all(s, self.containers.exists(c, c.name == s.name) || (has(self.finally) && self.finally.exists(f, f.name == s.name)))",message="spec.stepSettings[].name must name a step of spec.containers or spec.finally",messageExpression=`'spec.stepSettings[].name must name a step of spec.containers or spec.finally, and "' + self.stepSettings.map(s, s.name).filter(n, !(self.containers.exists(c, c.name == n) || (has(self.finally) && self.finally.exists(f, f.name == n))))[0] + '" names none'`
// +kubebuilder:validation:XValidation:rule="!has(self.retryFrom) || self.containers.exists(c, c.name == self.retryFrom)",message="spec.retryFrom must name a step of spec.containers",messageExpression=`has(self.finally) && self.finally.exists(f, f.name == self.retryFrom) ? 'spec.retryFrom must name a step of spec.containers, and "' + self.retryFrom + '" is a finally step: the finally steps run again on every retry' : 'spec.retryFrom must name a step of spec.containers, and "' + self.retryFrom + '" names none'`,fieldPath=".retryFrom"
// +kubebuilder:validation:XValidation:rule="!(has(self.podFailurePolicy) || (has(self.stepSettings) && self.stepSettings.exists(s, has(s.podFailurePolicy)))) || self.?template.?spec.?restartPolicy.orValue('Never') == 'Never'",message="a podFailurePolicy needs spec.template.spec.restartPolicy Never (or unset), as a Job requires"
// +kubebuilder:validation:XValidation:rule="!has(self.finally) || self.finally.all(c, !has(c.volumeMounts) || sets.contains(((has(self.template) && has(self.template.spec) && has(self.template.spec.volumes) ? self.template.spec.volumes.map(v, v.name) : []) + (has(self.volumeClaimTemplates) ? self.volumeClaimTemplates.map(t, t.name) : [])), c.volumeMounts.map(m, m.name)))",message="spec.finally[].volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates"
// +kubebuilder:validation:XValidation:rule="!has(self.approvedSteps) || self.approvedSteps.all(n, has(self.stepSettings) && self.stepSettings.exists(s, s.name == n && s.?approval.orValue('None') == 'Required'))",message="spec.approvedSteps[] must name a step whose stepSettings have approval: Required",messageExpression=`'spec.approvedSteps[] must name a step whose stepSettings have approval: Required, and "' + self.approvedSteps.filter(n, !(has(self.stepSettings) && self.stepSettings.exists(s, s.name == n && s.?approval.orValue('None') == 'Required')))[0] + '" has no approval gate'`
// +kubebuilder:validation:XValidation:rule="!has(self.stepSettings) || self.stepSettings.all(s, !has(s.approval) || self.containers.exists(c, c.name == s.name))",message="spec.stepSettings[].approval gates only steps of spec.containers: a finally step runs whatever happened, so it takes no approval",messageExpression=`'spec.stepSettings[].approval gates only steps of spec.containers: a finally step runs whatever happened, so it takes no approval, and "' + self.stepSettings.map(s, has(s.approval) && !self.containers.exists(c, c.name == s.name), s.name)[0] + '" is a finally step'`
// +kubebuilder:validation:XValidation:rule="!has(self.stepTemplate) || !has(self.stepTemplate.volumeMounts) || sets.contains(((has(self.template) && has(self.template.spec) && has(self.template.spec.volumes) ? self.template.spec.volumes.map(v, v.name) : []) + (has(self.volumeClaimTemplates) ? self.volumeClaimTemplates.map(t, t.name) : [])), self.stepTemplate.volumeMounts.map(m, m.name))",message="spec.stepTemplate.volumeMounts[].name must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates"
// +kubebuilder:validation:XValidation:rule="!has(self.volumeClaimTemplates) || !has(self.template) || !has(self.template.spec) || !has(self.template.spec.volumes) || !self.volumeClaimTemplates.exists(t, self.template.spec.volumes.exists(v, v.name == t.name))",message="spec.volumeClaimTemplates[].name must differ from every spec.template.spec.volumes[].name: steps mount both by name",messageExpression=`'spec.volumeClaimTemplates[].name must differ from every spec.template.spec.volumes[].name: steps mount both by name, and "' + self.volumeClaimTemplates.map(t, t.name).filter(n, self.template.spec.volumes.exists(v, v.name == n))[0] + '" is in both'`
type SequentialJobSpec struct {
	// Containers are the steps, run in list order. Each step runs as one
	// batch/v1 Job whose pod has this container as its only container.
	//
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:XValidation:rule="has(self.image) && self.image != ''",message="spec.containers[].image is required: every step needs an image",messageExpression=`'spec.containers[].image is required: every step needs an image, and step "' + self.name + '" has none'`,fieldPath=".image",reason="FieldValueRequired"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.image) || self.image == self.image.trim()",message="spec.containers[].image must not have leading or trailing whitespace: no image by that name can be pulled",fieldPath=".image"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.restartPolicy) || self.restartPolicy != 'Always'",message="spec.containers[].restartPolicy must not be Always: a step must end for the next one to start",fieldPath=".restartPolicy"
	Containers []corev1.Container `json:"containers"`

	// Template holds the pod settings every step shares (volumes, service
	// account, node selector, labels, ...). It must not list containers.
	// Without a restartPolicy, steps use Never.
	//
	// +optional
	Template corev1.PodTemplateSpec `json:"template,omitempty"`

	// StepTemplate holds container defaults for every step and finally step
	// (Tekton's stepTemplate): env, envFrom, volumeMounts, resources,
	// securityContext, ... A step's own field wins: env, volumeMounts,
	// volumeDevices and ports merge by their keys (name, mountPath,
	// devicePath, containerPort and protocol) with the step's entry winning,
	// envFrom lists the template's sources before the step's, objects such as
	// resources and securityContext merge field by field, and other lists
	// (command, args) are the step's when it sets them. It must not set name
	// or image: each step has its own. docs/step-controls.md gives each
	// field's rule.
	//
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.?name.orValue('') == ''",message="spec.stepTemplate.name must not be set: each step is named by its own container",fieldPath=".name",reason="FieldValueForbidden"
	// +kubebuilder:validation:XValidation:rule="self.?image.orValue('') == ''",message="spec.stepTemplate.image must not be set: every step names its own image",fieldPath=".image",reason="FieldValueForbidden"
	// +kubebuilder:validation:XValidation:rule="!has(self.restartPolicy) || self.restartPolicy != 'Always'",message="spec.stepTemplate.restartPolicy must not be Always: a step must end for the next one to start",fieldPath=".restartPolicy"
	StepTemplate *corev1.Container `json:"stepTemplate,omitempty"`

	// BackoffLimit is each step Job's spec.backoffLimit: how many pod
	// failures a step retries before it fails. Unset means the Job default (6).
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// ActiveDeadlineSeconds is each step Job's spec.activeDeadlineSeconds.
	// Unset means no deadline, as for a Job.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// PodFailurePolicy is each step Job's spec.podFailurePolicy: which pod
	// failures fail the step at once (an exit code, a pod condition), and
	// which do not count against backoffLimit. It needs the template's
	// restartPolicy to be Never, as a Job does.
	//
	// +optional
	PodFailurePolicy *batchv1.PodFailurePolicy `json:"podFailurePolicy,omitempty"`

	// StepSettings override the run-wide settings above for one step each,
	// keyed by step name (a step of containers or of finally).
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=80
	StepSettings []StepSettings `json:"stepSettings,omitempty"`

	// Finally are steps that run in list order once the steps of containers
	// have ended, whether they succeeded, failed or passed the run deadline
	// (Tekton's finally, Argo's onExit). Each runs once per ending of the
	// run; a failing one fails a run that had otherwise succeeded. Their
	// names must differ from the steps' names.
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="has(self.image) && self.image != ''",message="spec.finally[].image is required: every step needs an image",messageExpression=`'spec.finally[].image is required: every step needs an image, and finally step "' + self.name + '" has none'`,fieldPath=".image",reason="FieldValueRequired"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.image) || self.image == self.image.trim()",message="spec.finally[].image must not have leading or trailing whitespace: no image by that name can be pulled",fieldPath=".image"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.restartPolicy) || self.restartPolicy != 'Always'",message="spec.finally[].restartPolicy must not be Always: a step must end for the next one to start",fieldPath=".restartPolicy"
	Finally []corev1.Container `json:"finally,omitempty"`

	// Suspend, when true, starts no new step and suspends the running step's
	// Job (its pods are deleted). Setting it back to false resumes the run
	// from the same step, whose pods start again from the beginning. Time
	// suspended does not count against runDeadlineSeconds.
	//
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// RunDeadlineSeconds bounds the run's active time, from its first step's
	// start, not counting time suspended. When it passes, the running step's
	// Job is stopped and the run fails with reason DeadlineExceeded; the
	// finally steps still run.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	RunDeadlineSeconds *int64 `json:"runDeadlineSeconds,omitempty"`

	// RetryToken retries a Failed run from its failed step: set it to a value
	// it never had (a date, a counter) and the failed step runs again as a
	// new attempt with a new Job, then the steps after it; the steps that
	// succeeded do not run again. Re-applying the same value does nothing. A
	// new value seen while the run is not Failed (running, or Succeeded) is
	// recorded and starts nothing. Immutable runs accept changes to it.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	RetryToken string `json:"retryToken,omitempty"`

	// RetryFrom names the step (of containers) a retry starts from: with a
	// new retryToken, that step and every step after it run again, each as
	// its next attempt with a new Job, on a Failed or a Succeeded run; the
	// steps before it keep their results, and the finally steps run again.
	// On a Failed run whose failed step comes before it, the retry starts
	// from the failed step: the steps between never succeeded. Without a
	// new retryToken it does nothing. Immutable runs accept changes to it.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	RetryFrom string `json:"retryFrom,omitempty"`

	// TTLSecondsAfterFinished deletes the SequentialJob, and its Jobs with
	// it, this long after the run finished, as a Job's field does. A GitOps
	// tool that owns the object (Argo CD, Flux) re-creates it, and the run
	// starts again: use it only for objects nothing re-applies.
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`

	// JobManagedBy is copied to each step Job's spec.managedBy: the
	// controller that runs the Jobs instead of the built-in Job controller.
	// "kueue.x-k8s.io/multikueue" has MultiKueue run each step on a worker
	// cluster and mirror its status back (docs/kueue.md). Unset: the
	// built-in Job controller.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[-A-Za-z0-9_.]+$')",message="spec.jobManagedBy must be a domain-prefixed path, such as kueue.x-k8s.io/multikueue, as a Job's spec.managedBy"
	JobManagedBy string `json:"jobManagedBy,omitempty"`

	// ApprovedSteps releases approval gates (stepSettings[].approval:
	// Required): a gated step starts only once its name is listed here.
	// Each approver applies their own entry with server-side apply and a
	// field manager of their own (kubectl sequentialjob approve does), so
	// metadata.managedFields records who approved. A name listed before
	// the run reaches the step lets it pass without waiting; removing a
	// name once the step started changes nothing. Every name must be a
	// gated step. Immutable runs accept changes to it.
	//
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	ApprovedSteps []string `json:"approvedSteps,omitempty"`

	// UpdateStrategy says what a spec change does once the run has started.
	//
	// +optional
	UpdateStrategy UpdateStrategy `json:"updateStrategy,omitempty"`

	// VolumeClaimTemplates are PersistentVolumeClaims that live as long as
	// the run (Tekton's workspace volumeClaimTemplate, Argo's
	// volumeClaimTemplates): before the first step starts, the controller
	// creates each as "<run>-<name>", owned by the SequentialJob. A step,
	// finally step or the stepTemplate mounts one by its name in
	// volumeMounts, and the step's pod gets a persistentVolumeClaim volume
	// of that name, so step 2 reads what step 1 wrote. The controller waits
	// for none to bind. The claims are deleted with the run, and when it
	// finishes unless volumeClaimRetention.whenFinished is Retain.
	//
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	VolumeClaimTemplates []VolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`

	// VolumeClaimRetention says when the claims of volumeClaimTemplates go.
	//
	// +optional
	VolumeClaimRetention *VolumeClaimRetention `json:"volumeClaimRetention,omitempty"`
}

// VolumeClaimTemplate is one PersistentVolumeClaim of the run.
type VolumeClaimTemplate struct {
	// Name is the volume name steps mount it by; the claim is
	// "<run>-<name>", which must fit in 63 characters.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Metadata holds the claim's own labels and annotations.
	//
	// +optional
	Metadata ClaimMetadata `json:"metadata,omitempty"`

	// Spec is the claim's spec: accessModes, resources.requests.storage,
	// storageClassName, ...
	Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
}

// ClaimMetadata is the part of a claim's metadata a template sets.
type ClaimMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ClaimRetentionPolicy says whether a finished run keeps its claims.
//
// +kubebuilder:validation:Enum=Delete;Retain
type ClaimRetentionPolicy string

const (
	// ClaimRetentionDelete deletes the claims once the run finishes.
	ClaimRetentionDelete ClaimRetentionPolicy = "Delete"
	// ClaimRetentionRetain keeps them, for debugging, until the
	// SequentialJob is deleted (by a person or ttlSecondsAfterFinished).
	ClaimRetentionRetain ClaimRetentionPolicy = "Retain"
)

// VolumeClaimRetention says when the claims of volumeClaimTemplates go, as
// a StatefulSet's persistentVolumeClaimRetentionPolicy does.
type VolumeClaimRetention struct {
	// WhenFinished is Delete (the default): the claims go once the run
	// finishes (Succeeded or Failed, after its finally steps); or Retain:
	// they stay until the SequentialJob is deleted. Either way they go
	// with the SequentialJob.
	//
	// +optional
	// +kubebuilder:default=Delete
	WhenFinished ClaimRetentionPolicy `json:"whenFinished,omitempty"`
}

// StepSettings are one step's own settings; each set field overrides the
// run-wide one of the same name.
type StepSettings struct {
	// Name is the step's name, in spec.containers or spec.finally.
	//
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// BackoffLimit is this step's Job's spec.backoffLimit.
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`

	// ActiveDeadlineSeconds is this step's Job's spec.activeDeadlineSeconds.
	//
	// +optional
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// PodFailurePolicy is this step's Job's spec.podFailurePolicy.
	//
	// +optional
	PodFailurePolicy *batchv1.PodFailurePolicy `json:"podFailurePolicy,omitempty"`

	// OnFailure says what the run does when this step fails: Stop (the
	// default) fails the run; Continue records the step Failed and goes on,
	// and the run can still succeed, naming the failures it allowed.
	//
	// +optional
	OnFailure OnFailure `json:"onFailure,omitempty"`

	// When is a CEL expression the controller evaluates when the step's
	// turn comes: false skips the step (phase Skipped, reason
	// ConditionNotMet, no Job) and the run goes on. It reads the steps
	// that ran before it, steps['<name>'].phase, .reason, .result and
	// .attempt, and run.attempt, run.failed, run.labels and
	// run.annotations (docs/when.md). Every expression is compiled and
	// type-checked before the first step starts and after each edit; one
	// that is not a valid boolean expression of these variables fails the
	// run with InvalidStep.
	//
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.trim() != ''",message="spec.stepSettings[].when must not be blank: it is a CEL expression such as steps.build.phase == 'Succeeded'; leave it out to always run the step"
	When string `json:"when,omitempty"`

	// Approval Required holds the run before this step's Job exists (run
	// phase Waiting, condition AwaitingApproval) until spec.approvedSteps
	// lists the step. The wait does not count against runDeadlineSeconds.
	// A step whose when is false is skipped without waiting. Only steps of
	// spec.containers take a gate, not finally steps.
	//
	// +optional
	Approval Approval `json:"approval,omitempty"`
}

// Approval says whether a step waits for a person's yes before it starts.
//
// +kubebuilder:validation:Enum=Required
type Approval string

// ApprovalRequired holds the run before the step until spec.approvedSteps
// lists it.
const ApprovalRequired Approval = "Required"

// OnFailure is what a run does when a step fails.
//
// +kubebuilder:validation:Enum=Stop;Continue
type OnFailure string

const (
	OnFailureStop     OnFailure = "Stop"
	OnFailureContinue OnFailure = "Continue"
)

// UpdateStrategyType names a way to handle spec changes mid-run.
//
// +kubebuilder:validation:Enum=Continue;Immutable
type UpdateStrategyType string

const (
	// UpdateStrategyContinue lets the running step finish with the spec it
	// started with; the steps that have not started follow the new spec, by
	// name: an added step runs, a removed one does not, none runs twice.
	UpdateStrategyContinue UpdateStrategyType = "Continue"
	// UpdateStrategyImmutable rejects spec changes once the first step has
	// started. The CRD enforces it; a ValidatingAdmissionPolicy offers the
	// same rule in Warn and Audit modes.
	UpdateStrategyImmutable UpdateStrategyType = "Immutable"
)

// UpdateStrategy says what a spec change does once the run has started.
type UpdateStrategy struct {
	// Type is Continue (the default) or Immutable.
	//
	// +optional
	// +kubebuilder:default=Continue
	Type UpdateStrategyType `json:"type,omitempty"`
}

// Phase is where a run, or one step of it, stands.
type Phase string

const (
	PhasePending Phase = "Pending"
	PhaseRunning Phase = "Running"
	// PhaseSuspended is a run whose spec.suspend is true: no step runs.
	PhaseSuspended Phase = "Suspended"
	// PhaseQueued is a step whose Job waits, suspended, for admission by
	// a queue (Kueue), and a run whose current step does.
	PhaseQueued    Phase = "Queued"
	PhaseSucceeded Phase = "Succeeded"
	PhaseFailed    Phase = "Failed"
	// PhaseWaiting is a run held before a step with an approval gate
	// (stepSettings[].approval: Required) until spec.approvedSteps lists
	// it. The step itself stays Pending, with reason AwaitingApproval.
	PhaseWaiting Phase = "Waiting"
	// PhaseSkipped is a step whose stepSettings' when was false at its
	// turn: it got no Job, and the run went on. Only steps are skipped.
	PhaseSkipped Phase = "Skipped"
)

// Terminal is true for the phases a step or a run ends in.
func (p Phase) Terminal() bool { return p == PhaseSucceeded || p == PhaseFailed || p == PhaseSkipped }

// SequentialJobStatus is what the controller observed and did.
type SequentialJobStatus struct {
	// ObservedGeneration is the metadata.generation this status was computed from.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase is Pending, Running, Suspended, Waiting (for an approval),
	// Succeeded or Failed.
	//
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Conditions are Available, Progressing and Failed (the seed's), plus
	// Reconciling, Stalled (kstatus), ResourcesUnavailable, Suspended and
	// Complete (as on a Job, for kubectl wait) while they hold.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// State counts the steps by outcome.
	//
	// +optional
	State ExecutionState `json:"state,omitempty"`

	// Progress says where the run stands.
	//
	// +optional
	Progress JobProgress `json:"progress,omitempty"`

	// Steps is the run's record, one entry per step: first the steps that
	// started, in the order they started, each with its Job; then the
	// current spec's steps that have not started, in spec order, as Pending.
	// Entry n's Job is "<name>-<n>". A step is identified by its name, so an
	// edit mid-run never runs a step twice or skips one. A finished step's
	// record is kept even after its Job is deleted.
	//
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Steps []StepStatus `json:"steps,omitempty"`

	// Finally is the record of spec.finally, kept like Steps: the finally
	// steps that started, then the pending ones of the current spec. Entry
	// n's Job is "<name>-f<n>".
	//
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Finally []StepStatus `json:"finally,omitempty"`

	// Attempt is the run's attempt: 1, plus one for each retry
	// (spec.retryToken) that re-ran it.
	//
	// +optional
	Attempt int32 `json:"attempt,omitempty"`

	// RetryToken is the spec.retryToken the controller last saw.
	//
	// +optional
	RetryToken string `json:"retryToken,omitempty"`

	// StartTime is when the first step's Job was created.
	//
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// ActiveStartTime is when the run's active time began: the start time,
	// moved later by the time spent suspended, and reset when a retry
	// starts. spec.runDeadlineSeconds counts from it.
	//
	// +optional
	ActiveStartTime *metav1.Time `json:"activeStartTime,omitempty"`

	// SuspendTime is when the current suspension began.
	//
	// +optional
	SuspendTime *metav1.Time `json:"suspendTime,omitempty"`

	// QueueTime is when the current step began waiting for admission by
	// its queue. Like time suspended, queue wait does not count against
	// spec.runDeadlineSeconds.
	//
	// +optional
	QueueTime *metav1.Time `json:"queueTime,omitempty"`

	// ApprovalWaitTime is when the run began waiting for the approval of
	// its current step. Like time suspended, the wait does not count
	// against spec.runDeadlineSeconds.
	//
	// +optional
	ApprovalWaitTime *metav1.Time `json:"approvalWaitTime,omitempty"`

	// CompletionTime is when the run ended, in success or failure.
	//
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// ExecutionState counts the steps by outcome.
type ExecutionState struct {
	// Active is the number of steps whose Job is running (0 or 1).
	Active int32 `json:"active"`
	// Succeeded is the number of steps whose Job completed.
	Succeeded int32 `json:"succeeded"`
	// Failed is the number of steps whose Job failed.
	Failed int32 `json:"failed"`
	// Skipped is the number of steps whose when was false: they got no Job.
	//
	// +optional
	Skipped int32 `json:"skipped,omitempty"`
}

// JobProgress says where the run stands.
type JobProgress struct {
	// CurrentIndex is the index of the step running now, or of the last
	// step that ran once the run has ended.
	CurrentIndex int32 `json:"currentIndex"`

	// CurrentStep is the name of the step at CurrentIndex.
	//
	// +optional
	CurrentStep string `json:"currentStep,omitempty"`

	// InFinally is true when CurrentIndex and CurrentStep are those of a
	// finally step, an index of status.finally.
	//
	// +optional
	InFinally bool `json:"inFinally,omitempty"`

	// Summary is "<succeeded>/<total>", for kubectl get.
	//
	// +optional
	Summary string `json:"summary,omitempty"`

	// CompletedIndices are the indices of the steps that succeeded.
	//
	// +optional
	// +listType=atomic
	CompletedIndices []int32 `json:"completedIndices,omitempty"`

	// FailedIndex is the index of the step that failed, if one did.
	//
	// +optional
	FailedIndex *int32 `json:"failedIndex,omitempty"`

	// FailureReason is the failed Job's reason, for example BackoffLimitExceeded.
	//
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
}

// StepStatus is the record of one step.
type StepStatus struct {
	// Name is the step's container name.
	Name string `json:"name"`
	// JobName is the name of the step's Job.
	JobName string `json:"jobName"`
	// Phase is Pending, Running, Queued, Succeeded, Failed or Skipped.
	Phase Phase `json:"phase"`
	// StartTime is when the step's Job was created.
	//
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the step's Job reached Complete or Failed.
	//
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Reason is a CamelCase reason for the phase, for example BackoffLimitExceeded.
	//
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable detail for the phase. For a failed step
	// it includes what its last pod reported: the exit code, OOMKilled,
	// DeadlineExceeded, Evicted.
	//
	// +optional
	Message string `json:"message,omitempty"`
	// Result is the termination message the step's container wrote
	// (/dev/termination-log), at most 1024 bytes; a longer one is cut and
	// ends with "...[truncated]". Later steps read it from the environment
	// variable SQJ_RESULT_<NAME>, NAME being the step's name in upper case
	// with "-" as "_".
	//
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Result string `json:"result,omitempty"`
	// OnFailure is Continue on a failed step the run went on after.
	//
	// +optional
	OnFailure OnFailure `json:"onFailure,omitempty"`
	// Attempt is the attempt this entry records: 1, plus one for each
	// retry of this entry. Absent before the first attempt starts.
	//
	// +optional
	Attempt int32 `json:"attempt,omitempty"`
	// PreviousAttempts are this entry's earlier attempts, the most recent
	// last, at most 10.
	//
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	PreviousAttempts []StepAttempt `json:"previousAttempts,omitempty"`
}

// StepAttempt is how one earlier attempt of a step ended.
type StepAttempt struct {
	Attempt int32  `json:"attempt"`
	JobName string `json:"jobName"`
	Phase   Phase  `json:"phase"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// The updateStrategy rule below (explained here, outside the doc comment,
// which becomes the CRD's description) makes Immutable hold without any
// ValidatingAdmissionPolicy: once the run has started (the same test as the
// `started` variable of policies/immutable-once-started.yaml), an update
// must leave spec as it was, except the run controls spec.suspend, spec.approvedSteps,
// spec.retryToken, spec.retryFrom, spec.ttlSecondsAfterFinished and spec.volumeClaimRetention, which act on a run
// without changing what it runs. The old object's strategy decides, so one update
// cannot switch to Continue and change the spec too. Status writes (the
// status subresource keeps spec) and metadata-only updates (finalizers,
// labels) leave spec equal and pass.
//
// config/crd/immutable_test.go classifies every SequentialJobSpec field as a
// run control or as "what it runs", and fails until this rule (as generated)
// compares every field of the second kind and none of the first: a new spec
// field must be classified there, and compared here if it says what runs.
//
// CEL compares x-kubernetes-list-type=map lists, such as the steps and the
// template's initContainers, regardless of order; both run in list order, so
// the rule compares their names in order besides. (Order inside other map
// lists, such as env, is not compared.) The template's initContainers are
// bounded (MaxInitContainers) to keep that within the CEL cost budget.

// SequentialJob runs a list of containers one after another, one batch/v1 Job per step.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sqj,categories=all
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress.summary`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Current",type=string,JSONPath=`.status.progress.currentStep`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.status.attempt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.progress.failureReason`,priority=1
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec.volumeClaimTemplates) || !has(self.spec.volumeClaimTemplates) || !(has(oldSelf.status) && (has(oldSelf.status.startTime) || oldSelf.status.?phase.orValue('Pending') != 'Pending' || (has(oldSelf.status.steps) && oldSelf.status.steps.exists(s, s.phase != 'Pending')))) || oldSelf.spec.volumeClaimTemplates.all(o, self.spec.volumeClaimTemplates.all(t, t.name != o.name || t.spec == o.spec))",message="spec.volumeClaimTemplates[].spec cannot change once the run has started: its claim exists and the spec of a claim is immutable; add a template under a new name, or delete and re-create the SequentialJob",reason="FieldValueForbidden",fieldPath=".spec.volumeClaimTemplates"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.volumeClaimTemplates) || self.spec.volumeClaimTemplates.all(t, size(self.metadata.name) + 1 + size(t.name) <= 63)",message="each volume claim's name (<metadata.name>-<spec.volumeClaimTemplates[].name>) must be at most 63 characters"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 60",message="metadata.name must be at most 60 characters, so that the step Job names (<name>-<index>) fit in 63"
// +kubebuilder:validation:XValidation:rule="oldSelf.spec.?updateStrategy.?type.orValue('Continue') != 'Immutable' || !(has(oldSelf.status) && (has(oldSelf.status.startTime) || oldSelf.status.?phase.orValue('Pending') != 'Pending' || (has(oldSelf.status.steps) && oldSelf.status.steps.exists(s, s.phase != 'Pending')))) || (self.spec.containers == oldSelf.spec.containers && (has(self.spec.template) ? has(oldSelf.spec.template) && self.spec.template == oldSelf.spec.template : !has(oldSelf.spec.template)) && (has(self.spec.stepTemplate) ? has(oldSelf.spec.stepTemplate) && self.spec.stepTemplate == oldSelf.spec.stepTemplate : !has(oldSelf.spec.stepTemplate)) && (has(self.spec.backoffLimit) ? has(oldSelf.spec.backoffLimit) && self.spec.backoffLimit == oldSelf.spec.backoffLimit : !has(oldSelf.spec.backoffLimit)) && (has(self.spec.activeDeadlineSeconds) ? has(oldSelf.spec.activeDeadlineSeconds) && self.spec.activeDeadlineSeconds == oldSelf.spec.activeDeadlineSeconds : !has(oldSelf.spec.activeDeadlineSeconds)) && (has(self.spec.podFailurePolicy) ? has(oldSelf.spec.podFailurePolicy) && self.spec.podFailurePolicy == oldSelf.spec.podFailurePolicy : !has(oldSelf.spec.podFailurePolicy)) && (has(self.spec.stepSettings) ? has(oldSelf.spec.stepSettings) && self.spec.stepSettings == oldSelf.spec.stepSettings : !has(oldSelf.spec.stepSettings)) && (has(self.spec.finally) ? has(oldSelf.spec.finally) && self.spec.finally == oldSelf.spec.finally : !has(oldSelf.spec.finally)) && (has(self.spec.runDeadlineSeconds) ? has(oldSelf.spec.runDeadlineSeconds) && self.spec.runDeadlineSeconds == oldSelf.spec.runDeadlineSeconds : !has(oldSelf.spec.runDeadlineSeconds)) && (has(self.spec.updateStrategy) ? has(oldSelf.spec.updateStrategy) && self.spec.updateStrategy == oldSelf.spec.updateStrategy : !has(oldSelf.spec.updateStrategy)) && (has(self.spec.jobManagedBy) ? has(oldSelf.spec.jobManagedBy) && self.spec.jobManagedBy == oldSelf.spec.jobManagedBy : !has(oldSelf.spec.jobManagedBy)) && (has(self.spec.volumeClaimTemplates) ? has(oldSelf.spec.volumeClaimTemplates) && self.spec.volumeClaimTemplates == oldSelf.spec.volumeClaimTemplates : !has(oldSelf.spec.volumeClaimTemplates)) && self.spec.containers.map(c, c.name) == oldSelf.spec.containers.map(c, c.name) && (has(self.spec.finally) ? self.spec.finally.map(c, c.name) : []) == (has(oldSelf.spec.finally) ? oldSelf.spec.finally.map(c, c.name) : []) && (has(self.spec.template) && has(self.spec.template.spec) && has(self.spec.template.spec.initContainers) ? self.spec.template.spec.initContainers.map(c, c.name) : []) == (has(oldSelf.spec.template) && has(oldSelf.spec.template.spec) && has(oldSelf.spec.template.spec.initContainers) ? oldSelf.spec.template.spec.initContainers.map(c, c.name) : []))",message="spec is immutable: spec.updateStrategy.type is Immutable and the first step has started; delete and re-create the SequentialJob to run a different spec",reason="FieldValueForbidden",fieldPath=".spec"
type SequentialJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SequentialJobSpec `json:"spec"`

	// Status starts as observedGeneration 0 (a default, applied on read):
	// kstatus, and so Flux's wait, then see "not yet reconciled" instead of
	// reading a status-less object as Current.
	//
	// +kubebuilder:default={observedGeneration: 0}
	Status SequentialJobStatus `json:"status,omitempty"`
}

// SequentialJobList is a list of SequentialJobs.
//
// +kubebuilder:object:root=true
type SequentialJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SequentialJob `json:"items"`
}
