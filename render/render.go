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

	// Problem is the problem this result was rendered with, if any. The
	// reconciler retries such a result with backoff.
	Problem *Problem

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

// Problem is something only the cluster knows that stops the next step's Job
// from being created: a missing ServiceAccount, an exceeded quota, a
// terminating namespace, or any other error of the apiserver. The reconciler
// finds it and renders again with it, so that status stays render's alone.
type Problem struct {
	// ConditionType is ResourcesUnavailable for what the user or the cluster
	// must fix, or Failed (with reason ReconciliationError) for other errors.
	ConditionType string `json:"conditionType"`
	Reason        string `json:"reason"`
	Message       string `json:"message"`
}

// Error lets the reconciler hand a Problem to its workqueue, which retries
// with exponential backoff.
func (p *Problem) Error() string { return p.Reason + ": " + p.Message }

// Render computes the desired state. It never modifies sj or the Jobs.
func Render(sj *v1alpha1.SequentialJob, observed []batchv1.Job, now time.Time) Desired {
	return render(sj, observed, now, nil)
}

// RenderWithProblem is Render when the next step's Job cannot be created:
// that step stays Pending, the problem becomes a condition and a Warning
// event, and the reconciler retries with backoff.
func RenderWithProblem(sj *v1alpha1.SequentialJob, observed []batchv1.Job, now time.Time, problem Problem) Desired {
	return render(sj, observed, now, &problem)
}

func render(sj *v1alpha1.SequentialJob, observed []batchv1.Job, now time.Time, problem *Problem) Desired {
	// Status times are stored with second precision; truncating here keeps a
	// freshly computed time equal to its stored copy on the next reconcile.
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))

	jobs := classify(sj, observed)
	plan := planSteps(sj, jobs, ts, problem)

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
	desired.Problem = plan.problem
	return desired
}
