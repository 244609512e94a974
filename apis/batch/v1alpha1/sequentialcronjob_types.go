package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// SequentialCronJob's identity: its label, reasons and limits. They live
// beside the kind (not in constants.go) so that the kind is one file.
const (
	// LabelSequentialCronJob carries the name of the SequentialCronJob that
	// created a run (a SequentialJob). The controller lists its runs by it.
	LabelSequentialCronJob = "batch.example.com/sequentialcronjob"
	// AnnotationScheduledTime records the schedule time a run was created
	// for (RFC 3339), as batch/v1 CronJob's batch.kubernetes.io/cronjob-scheduled-timestamp.
	AnnotationScheduledTime = "batch.example.com/scheduled-time"
	// AnnotationTriggered marks a run created by `kubectl sequentialjob
	// trigger`: it counts as a run of the cron (history, concurrency) but
	// has no schedule time.
	AnnotationTriggered = "batch.example.com/triggered"

	// MaxCronNameLength leaves room for "-<scheduled unix minutes>" (a
	// dash and at most 8 digits until the year 2160) inside the 60
	// characters of a SequentialJob name (MaxNameLength).
	MaxCronNameLength = 51
	// MaxMissedSchedules is how many missed schedule times are counted
	// before the cron reports too many (a Warning event) instead of
	// counting on, as batch/v1 CronJob does.
	MaxMissedSchedules = 100
	// MaxScheduleLength and MaxTimeZoneLength bound the strings the CEL
	// rules match, for the cost budget.
	MaxScheduleLength = 128
	MaxTimeZoneLength = 64
)

// Conditions and reasons of a SequentialCronJob. Ready is True while the
// schedule is valid and the controller acts on it; Stalled is True (and
// Ready False) when the schedule or time zone does not parse, which only an
// edit fixes. kstatus reads Stalled and observedGeneration; Argo CD reads
// the health script config/argocd/health-cron.lua.
const (
	ConditionReady = "Ready"

	ReasonScheduled       = "Scheduled"
	ReasonCronSuspended   = "Suspended"
	ReasonInvalidSchedule = "InvalidSchedule"
	ReasonInvalidTimeZone = "InvalidTimeZone"
	ReasonScheduleValid   = "ScheduleValid"
)

// Event reasons of a SequentialCronJob, those of batch/v1 CronJob.
const (
	EventSuccessfulCreate     = "SuccessfulCreate"
	EventSuccessfulDelete     = "SuccessfulDelete"
	EventMissSchedule         = "MissSchedule"
	EventTooManyMissedTimes   = "TooManyMissedTimes"
	EventJobAlreadyActive     = "JobAlreadyActive"
	EventUnparseableSchedule  = "UnparseableSchedule"
	EventSawCompletedJob      = "SawCompletedJob"
	EventTriggered            = "Triggered"
	EventInvalidScheduleFixed = "ScheduleFixed"
)

// ConcurrencyPolicy says what a schedule time does while a run of the cron
// is still active.
//
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// AllowConcurrent starts the run next to the active ones.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent skips the schedule time while a run is active.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent deletes the active runs and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// SequentialCronJobSpec says when to create a SequentialJob, and from what.
// Its fields mean what batch/v1 CronJob's do.
//
// +kubebuilder:validation:XValidation:rule="!self.schedule.contains('TZ=')",message="spec.schedule must not set TZ= or CRON_TZ=: use spec.timeZone",fieldPath=".schedule"
type SequentialCronJobSpec struct {
	// Schedule in cron syntax: five fields (minute hour day-of-month month
	// day-of-week), or one of @yearly, @annually, @monthly, @weekly,
	// @daily, @midnight, @hourly, or @every <duration>.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every [0-9a-zµ.]+|[0-9A-Za-z*/,?-]+([ \\t]+[0-9A-Za-z*/,?-]+){4})$')",message="spec.schedule must be five cron fields (minute hour day-of-month month day-of-week) or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>"
	Schedule string `json:"schedule"`

	// TimeZone of the schedule, a name of the IANA time zone database such
	// as Europe/Berlin. Unset, the schedule is in the controller's time
	// zone (UTC in the shipped image).
	//
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$')",message="spec.timeZone must be a name of the IANA time zone database, such as Europe/Berlin or UTC"
	TimeZone *string `json:"timeZone,omitempty"`

	// StartingDeadlineSeconds: a schedule time missed by more than this
	// many seconds (the controller was down, the cron suspended) is
	// skipped. Unset, a missed time always runs (only the most recent).
	//
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// ConcurrencyPolicy: Allow (the default) starts a run while others are
	// active, Forbid skips the schedule time, Replace deletes the active
	// runs and starts the new one.
	//
	// +optional
	// +kubebuilder:default=Allow
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// Suspend stops new runs; runs already started go on.
	//
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// SequentialJobTemplate is the SequentialJob each run is made from.
	SequentialJobTemplate SequentialJobTemplateSpec `json:"sequentialJobTemplate"`

	// SuccessfulRunsHistoryLimit: how many succeeded runs to keep.
	//
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty"`

	// FailedRunsHistoryLimit: how many failed runs to keep.
	//
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty"`
}

// SequentialJobTemplateSpec is the metadata (labels, annotations) and spec
// of the SequentialJobs a SequentialCronJob creates.
type SequentialJobTemplateSpec struct {
	// Labels and annotations of each run; its name, namespace and owner
	// come from the cron.
	//
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec of each run.
	Spec SequentialJobSpec `json:"spec"`
}

// SequentialCronJobStatus is what the controller last saw and did.
type SequentialCronJobStatus struct {
	// ObservedGeneration is the generation of the spec this status is about.
	//
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Active lists the runs that have not finished.
	//
	// +optional
	// +listType=atomic
	Active []corev1.ObjectReference `json:"active,omitempty"`

	// LastScheduleTime is the schedule time of the newest run created.
	//
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// LastSuccessfulTime is when the newest succeeded run completed.
	//
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// Conditions: Ready, and Stalled while the schedule does not parse.
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SequentialCronJob creates a SequentialJob on a schedule, as a batch/v1
// CronJob creates Jobs.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sqcj,categories=all
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="TimeZone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 51",message="metadata.name must be at most 51 characters, so that the run names (<name>-<scheduled unix minutes>) fit in 60"
type SequentialCronJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SequentialCronJobSpec `json:"spec"`

	// Status starts as observedGeneration 0 (a default, applied on read),
	// so kstatus sees "not yet reconciled" rather than Current.
	//
	// +kubebuilder:default={observedGeneration: 0}
	Status SequentialCronJobStatus `json:"status,omitempty"`
}

// SequentialCronJobList is a list of SequentialCronJobs.
//
// +kubebuilder:object:root=true
type SequentialCronJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SequentialCronJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &SequentialCronJob{}, &SequentialCronJobList{})
		return nil
	})
}
