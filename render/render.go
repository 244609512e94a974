// Package render is the pure core of the SequentialJob controller: it maps a
// SequentialJob and the Jobs observed for it to the Jobs that should exist,
// the status to write and the events to record.
//
// It reads no clock (now is an input), imports no client and does no I/O, so
// the same inputs always give the same output. That is what lets the
// reconciler stay a thin read -> render -> apply loop, lets the golden tests
// pin every decision, and lets `sequentialjob render` show offline exactly
// what the controller would do.
package render

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// Desired is everything one reconcile should make true.
type Desired struct {
	// Jobs to create, as whole intents for server-side apply. Existing Jobs
	// never appear here: a Job's template is immutable, and a step's Job is
	// never re-rendered from a changed spec.
	Jobs []*batchv1ac.JobApplyConfiguration

	// Status is the whole status, typed, for comparison and display.
	Status v1alpha1.SequentialJobStatus
	// StatusApply is Status as a server-side apply intent for the status subresource.
	StatusApply *sjac.SequentialJobApplyConfiguration
	// StatusChanged is false when Status equals the observed status, so the
	// reconciler writes nothing.
	StatusChanged bool

	// Events to record, derived from the old status and the new one.
	Events []Event

	// ConfirmWithLiveRead is true when this result would end a step because
	// its Job is missing. A cache that lags behind a just-created Job looks
	// the same, so the reconciler re-reads from the apiserver and renders
	// again before acting on it.
	ConfirmWithLiveRead bool

	// Blocked is true when the run cannot progress until something outside
	// it changes (a Job with our name that we do not own). Nothing we own
	// will change, so the reconciler polls with backoff.
	Blocked bool
}

// Event is a Kubernetes event to record on the SequentialJob.
type Event struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Render computes the desired state. sj must not be modified by the caller
// while Render runs; Render never modifies it or the Jobs.
func Render(sj *v1alpha1.SequentialJob, observed []batchv1.Job, now time.Time) Desired {
	// Status times are stored with second precision; truncating here keeps a
	// freshly computed time equal to its stored copy on the next reconcile.
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))

	jobs := classify(sj, observed)
	plan := planSteps(sj, jobs, ts)

	var desired Desired
	if plan.next != nil {
		desired.Jobs = append(desired.Jobs, desiredJob(sj, plan.next.index))
	}
	desired.Status = runStatus(sj, plan, ts)
	desired.StatusApply = statusApply(sj, desired.Status)
	desired.StatusChanged = !equality.Semantic.DeepEqual(sj.Status, desired.Status)
	desired.Events = events(sj, plan, desired.Status)
	desired.ConfirmWithLiveRead = plan.endsStepForMissingJob
	desired.Blocked = plan.conflict != nil
	return desired
}
