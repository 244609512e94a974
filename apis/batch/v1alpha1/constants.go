package v1alpha1

// The API's identity: what users select on, the conditions and reasons they
// read, and the size limits. Kubebuilder markers cannot reference constants,
// so the markers repeat these numbers; config/crd's tests check that the
// generated CRD agrees with them.

// Size limits.
const (
	// MaxSteps bounds spec.containers. It keeps the CEL cost estimate of the
	// list rules within budget and leaves room for the step index in Job names.
	MaxSteps = 64

	// MaxStartedSteps bounds how many steps one run may start. Edits can add
	// steps while a run goes on; without a bound the run's record (and the
	// "-<index>" of its Job names) would grow without end. A run that would
	// start one more fails with ReasonStepLimitExceeded.
	MaxStartedSteps = MaxSteps

	// MaxRecordedSteps bounds status.steps: the started steps, then the
	// pending steps of the current spec.
	MaxRecordedSteps = MaxStartedSteps + MaxSteps

	// MaxNameLength leaves room for "-<index>" (at most "-63") inside the 63
	// characters a Job name may have, because the Job controller copies the
	// Job name into a label on every pod.
	MaxNameLength = 60

	// MaxJobNameLength is 63, not 253: the Job controller copies the Job
	// name into the batch.kubernetes.io/job-name label of every pod.
	MaxJobNameLength = 63

	// MaxStepNameLength is a container name's limit (a DNS label).
	MaxStepNameLength = 63

	// MaxVolumes bounds spec.template.spec.volumes, and MaxVolumeMounts the
	// volumeMounts of each step. The CRD rule that every volumeMount names a
	// template volume costs steps x mounts x volumes in CEL: with these
	// bounds the largest object costs ~0.7M, within the apiserver's runtime
	// limit of 1M per rule, so no valid object is rejected for cost. Pods
	// have no such limits, but real ones stay far below them.
	MaxVolumes      = 128
	MaxVolumeMounts = 64

	// MaxVolumeNameLength bounds the names of template volumes and of
	// volumeMounts: a volume name is a DNS label, which pods enforce, and a
	// mount names a volume. Without it the CEL cost estimator assumes names
	// of megabytes.
	MaxVolumeNameLength = 63

	// MaxInitContainers bounds spec.template.spec.initContainers, so that
	// the Immutable rule can compare their order within the CEL cost budget.
	MaxInitContainers = 64

	// MaxImageLength bounds a step's image reference (a 255-character
	// name, a tag, a digest fit well within it), so that the CEL rule that
	// refuses whitespace around it fits the cost budget.
	MaxImageLength = 1024

	// MaxFinallySteps bounds spec.finally, and the "-f<index>" of their Job
	// names.
	MaxFinallySteps = 16

	// MaxVolumeClaimTemplates bounds spec.volumeClaimTemplates: their names
	// join the template's volumes in the volumeMounts rules' CEL cost.
	MaxVolumeClaimTemplates = 8

	// MaxRecordedFinallySteps bounds status.finally: the finally steps that
	// started, then the pending ones of the current spec.
	MaxRecordedFinallySteps = 2 * MaxFinallySteps

	// MaxStepSettings bounds spec.stepSettings: one per step at most.
	MaxStepSettings = MaxSteps + MaxFinallySteps

	// MaxPreviousAttempts bounds each step's status.previousAttempts: the
	// most recent are kept, so any number of retries fits in status.
	MaxPreviousAttempts = 10

	// MaxResultLength bounds a step's status result. Kubernetes caps a
	// termination message at 4096 bytes; a run of 64 steps keeps its
	// results well within an object's size limit at 1 KiB each.
	MaxResultLength = 1024

	// MaxRetryTokenLength bounds spec.retryToken.
	MaxRetryTokenLength = 63

	// MaxWhenLength bounds a step's stepSettings when expression: enough
	// for any condition a person writes, and it bounds the work of
	// compiling one.
	MaxWhenLength = 1024
)

// Labels and annotations the controller puts on every step Job and its pods.
const (
	// LabelSequentialJob carries the owning SequentialJob's name. The
	// controller lists and caches Jobs by it.
	LabelSequentialJob = "batch.example.com/sequentialjob"
	// LabelStepIndex carries the index of the step's entry in status.steps,
	// which is also the "-<index>" of its Job name.
	LabelStepIndex = "batch.example.com/step-index"
	// LabelStepName carries the step's name (its container's name): a step's
	// identity. A Job created just before a crash is recognised by it.
	LabelStepName = "batch.example.com/step-name"
	// LabelStepRecorded marks a step's Job whose result the SequentialJob's
	// status records: the controller released it (removed its step-result
	// finalizer) and no longer keeps it in memory, so the controller's
	// memory grows with the running steps, not with every Job it ever made.
	LabelStepRecorded = "batch.example.com/step-recorded"
	// LabelFinally marks the Jobs of spec.finally's steps: their index is
	// in status.finally, and their Job names end in "-f<index>".
	LabelFinally = "batch.example.com/finally"
	// LabelStepAttempt carries a retried step's attempt (2, 3, ...), which
	// its Job name ends with ("-r<attempt>"). The first attempt has none.
	LabelStepAttempt = "batch.example.com/step-attempt"
	// ResultAnnotationPrefix prefixes the step name in the annotations that
	// carry earlier steps' results on a step's pod template; the pod reads
	// them back as environment variables through the downward API.
	ResultAnnotationPrefix = "results.batch.example.com/"
	// ResultEnvPrefix prefixes the environment variables that carry
	// earlier steps' results: SQJ_RESULT_<NAME>, NAME being the step's name
	// in upper case with "-" as "_".
	ResultEnvPrefix = "SQJ_RESULT_"
	// AnnotationSpecGeneration records the SequentialJob generation a Job was
	// rendered from, so a spec change mid-run can be traced per step.
	AnnotationSpecGeneration = "batch.example.com/spec-generation"

	// LabelClaimTemplate names, on a run's PersistentVolumeClaim, the
	// spec.volumeClaimTemplates entry it was made from.
	LabelClaimTemplate = "batch.example.com/volume-claim-template"
)

// Kueue's labels (https://kueue.sigs.k8s.io), read on the SequentialJob and
// put on every step Job: Kueue's convention for a workload's queue and
// priority, as on a Job, JobSet or RayJob.
const (
	// LabelQueueName puts every step's Job in that LocalQueue: each step is
	// admitted, and holds quota, on its own.
	LabelQueueName = "kueue.x-k8s.io/queue-name"
	// LabelPriorityClass is a Kueue WorkloadPriorityClass for the steps.
	LabelPriorityClass = "kueue.x-k8s.io/priority-class"
	// ManagedByMultiKueue is the spec.managedBy of a Job MultiKueue runs on
	// a worker cluster.
	ManagedByMultiKueue = "kueue.x-k8s.io/multikueue"
)

// Finalizers.
const (
	// FinalizerCleanup holds a SequentialJob until its Jobs are gone.
	FinalizerCleanup = "batch.example.com/sequentialjob-cleanup"
	// FinalizerStepResult holds a step's Job until the controller has
	// recorded its result in status, so a Job deleted the moment it finishes
	// (ttlSecondsAfterFinished: 0, a person, a backlog) still tells how it
	// ended. The Job controller does the same with its pods.
	FinalizerStepResult = "batch.example.com/step-result"
)

// Condition types. Available, Progressing and Failed are the seed's;
// Reconciling and Stalled are what kstatus (Flux) reads, present only while
// they are True; ResourcesUnavailable is the seed's runtime-validation
// condition, present only while something only the cluster knows keeps the
// next step from starting.
const (
	ConditionAvailable            = "Available"
	ConditionProgressing          = "Progressing"
	ConditionFailed               = "Failed"
	ConditionReconciling          = "Reconciling"
	ConditionStalled              = "Stalled"
	ConditionResourcesUnavailable = "ResourcesUnavailable"
	// ConditionComplete is present, True, once the run succeeded, as on a
	// batch/v1 Job: `kubectl wait --for=condition=Complete` works as it
	// does for Jobs (and --for=condition=Failed with the seed's Failed).
	ConditionComplete = "Complete"
	// ConditionSuspended is present, True, while spec.suspend holds a run
	// that has not finished.
	ConditionSuspended = "Suspended"
	// ConditionAwaitingApproval is present, True, while the run waits
	// before a step whose approval gate spec.approvedSteps has not
	// released (stepSettings[].approval: Required).
	ConditionAwaitingApproval = "AwaitingApproval"
)

// Reasons of conditions, of step records and of events.
const (
	ReasonStepRunning = "StepRunning"
	ReasonCompleted   = "Completed"
	ReasonNoFailure   = "NoFailure"
	ReasonJobCreated  = "JobCreated"
	// ReasonJobFailed: a step's Job reached Failed (the seed's).
	ReasonJobFailed = "JobFailed"
	// ReasonJobDeleted ends a started step whose Job disappeared before it
	// reached Complete or Failed. The step is not run again.
	ReasonJobDeleted = "JobDeleted"
	// ReasonInvalidStep: the apiserver rejected a server-side dry-run of a
	// step's Job before it started, so the run failed before running it.
	ReasonInvalidStep = "InvalidStep"
	// ReasonJobRejected: the apiserver rejected the creation of a step's Job
	// as invalid. It would be rejected again, so the run fails.
	ReasonJobRejected = "JobRejected"
	// ReasonStepLimitExceeded: edits would make the run start more than
	// MaxStartedSteps steps.
	ReasonStepLimitExceeded = "StepLimitExceeded"
	// ReasonJobNameConflict: a Job with the step's Job name exists and is
	// not controlled by this SequentialJob.
	ReasonJobNameConflict = "JobNameConflict"
	// ReasonReconciliationError is the Failed condition's reason while the
	// controller cannot act for an unexpected error (the seed's). The run
	// itself has not failed; the controller retries.
	ReasonReconciliationError = "ReconciliationError"
	// ReasonRetrying is the Progressing condition's reason while such an
	// error is retried and is younger than the controller's grace period
	// (render.ErrorGracePeriod): one hiccup is not reported as Failed.
	ReasonRetrying               = "Retrying"
	ReasonServiceAccountNotFound = "ServiceAccountNotFound"
	ReasonQuotaExceeded          = "QuotaExceeded"
	ReasonNamespaceTerminating   = "NamespaceTerminating"
	// ReasonSuspended: spec.suspend holds the run.
	ReasonSuspended = "Suspended"
	// ReasonAwaitingApproval: the run waits before a gated step until
	// spec.approvedSteps lists it; the reason of the waiting step's entry,
	// of the AwaitingApproval condition and of the event.
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonDeadlineExceeded: spec.runDeadlineSeconds passed; the running
	// step was stopped (the same word as the Job API's).
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonQueued: the step's Job waits, suspended, for admission by its
	// queue (Kueue).
	ReasonQueued = "Queued"
	// ReasonRunDeadlineExceeded is the reason of the step the run deadline
	// stopped, or that it kept from starting; the run's reason is then
	// ReasonDeadlineExceeded.
	ReasonRunDeadlineExceeded = "RunDeadlineExceeded"
	// ReasonFinallyRunning: the steps ended and a finally step runs.
	ReasonFinallyRunning = "FinallyRunning"
	// ReasonFinallyFailed: a finally step failed a run whose steps had
	// otherwise succeeded.
	ReasonFinallyFailed = "FinallyFailed"
	// ReasonCompletedWithFailures: every step ran and the run succeeded,
	// although steps with onFailure Continue failed.
	ReasonCompletedWithFailures = "CompletedWithFailures"
	// ReasonConditionNotMet: a step's when was false at its turn, so it
	// was skipped (phase Skipped) and got no Job.
	ReasonConditionNotMet = "ConditionNotMet"
	// ReasonRemovedFromSpec: a step a retry re-opened for its next attempt
	// was removed from spec by an edit before that attempt started: as a
	// removed pending step, it does not run (phase Skipped, no Job).
	ReasonRemovedFromSpec = "RemovedFromSpec"
	// ReasonWhenEvaluationFailed: a step's when, valid when checked, failed
	// as it was evaluated at the step's turn (for example int() of a
	// result that is not a number): the step failed without a Job.
	ReasonWhenEvaluationFailed = "WhenEvaluationFailed"
)

// Event reasons that are not condition reasons.
const (
	EventStepStarted   = "StepStarted"
	EventStepSucceeded = "StepSucceeded"
	// EventStepSkipped: a step's when was false; it was skipped.
	EventStepSkipped = "StepSkipped"
	EventSpecChanged = "SpecChanged"
	// EventReconciliationFailed is the seed's event for unexpected errors.
	EventReconciliationFailed = "ReconciliationFailed"
	EventCleanup              = "Cleanup"
	// EventStepAdmitted: a queued step's Job was admitted and runs.
	EventStepAdmitted = "StepAdmitted"
	// EventResumed: spec.suspend was cleared and the run goes on.
	EventResumed = "Resumed"
	// EventApproved: spec.approvedSteps released the gate the run waited
	// at; the step starts.
	EventApproved = "Approved"
	// EventRetry: a new spec.retryToken re-runs a Failed run.
	EventRetry = "Retry"
	// EventRetryIgnored: a new spec.retryToken reached a run that had not
	// failed; it is recorded and starts nothing.
	EventRetryIgnored = "RetryIgnored"
	// EventExpired: spec.ttlSecondsAfterFinished passed; the SequentialJob
	// is deleted.
	EventExpired = "Expired"
)
