// Package render is the pure core of the SequentialJob controller: it maps
// what one reconcile observed (the SequentialJob, its Jobs, and what the
// cluster reported) to the Jobs that should exist, the status to write and
// the transitions to announce.
//
// It reads no clock (now is an input), imports no client and does no I/O, so
// the same inputs always give the same output. That is what lets the
// reconciler stay a thin observe -> render -> write loop, lets the golden
// tests pin every decision, and lets `sequentialjob render` show offline
// exactly what the controller would do.
package render

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// Observed is everything one reconcile knows about one SequentialJob.
type Observed struct {
	SequentialJob *v1alpha1.SequentialJob `json:"sequentialJob"`
	// Jobs are the Jobs labelled for the SequentialJob, plus any Job found
	// by name where a step's Job would go.
	Jobs []batchv1.Job `json:"jobs,omitempty"`
	// Problem is what keeps the next step's Job from being created for now
	// (a missing ServiceAccount, a quota, an apiserver error). It clears up
	// by itself or once fixed, so the step waits and the reconciler retries.
	Problem *Problem `json:"problem,omitempty"`
	// Pods are the pods of the Jobs whose step ends now (Checks.PodsOf):
	// their container's termination message is the step's result, and a
	// failed pod tells why (exit code, OOMKilled, Evicted).
	Pods []corev1.Pod `json:"pods,omitempty"`
	// Rejected are the steps, by name, that the apiserver refused as
	// invalid: in a server-side dry-run before they started (InvalidStep) or
	// when their Job was created (JobRejected). Retrying cannot help, so
	// each fails the run.
	Rejected map[string]Rejection `json:"rejected,omitempty"`
}

// Rejection is the apiserver refusing a step's Job as invalid.
type Rejection struct {
	// Reason is v1alpha1.ReasonInvalidStep or v1alpha1.ReasonJobRejected.
	Reason string `json:"reason"`
	// Message is the apiserver's own words.
	Message string `json:"message"`
}

// Desired is everything one reconcile should make true.
type Desired struct {
	// Jobs to create, as whole intents for server-side apply. Existing Jobs
	// never appear here: a Job's template is immutable, and a step's Job is
	// never re-rendered from a changed spec.
	Jobs []*batchv1ac.JobApplyConfiguration

	// JobControls change running steps' Jobs (spec.suspend, or
	// spec.activeDeadlineSeconds to stop one): small intents applied with
	// their own field manager, JobControlFieldManager, so that the
	// creating intents above keep owning the rest of each Job.
	JobControls []*batchv1ac.JobApplyConfiguration

	// Status is the whole status, typed, for comparison and display.
	Status v1alpha1.SequentialJobStatus
	// StatusApply is Status as a server-side apply intent for the status
	// subresource; nil when the status has not changed, so a reconcile that
	// writes nothing does not build it.
	StatusApply *sjac.SequentialJobApplyConfiguration
	// StatusChanged is false when Status equals the observed status, so the
	// reconciler writes nothing.
	StatusChanged bool

	// Release names the Jobs whose step-result finalizer can go once Status
	// is written: Status records how their step ended.
	Release []string

	// Transitions are the step and run phase changes from the observed
	// status to Status. Events, metrics and progress output consume them,
	// only once Status is written.
	Transitions []Transition
	// Events to record once Status is written: the transitions', plus
	// warnings about the spec and the cluster.
	Events []Event

	// Problem is the problem this result was rendered with, if any. The
	// reconciler retries such a result with backoff.
	Problem *Problem

	// RequeueAfter, when set, is when this run must be looked at again
	// though nothing it watches changes: the run deadline or the
	// ttlSecondsAfterFinished passes.
	RequeueAfter time.Duration

	// Delete is true when spec.ttlSecondsAfterFinished has passed: the
	// reconciler deletes the SequentialJob, and its Jobs go with it.
	Delete bool

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
	// Job is the step's Job the event is about, recorded as the event's
	// related object. events.k8s.io folds events of one reason on one
	// object version into a series under the first one's note, so without
	// it two steps' events in one reconcile would read as one.
	Job string `json:"job,omitempty"`
}

// JobControlFieldManager owns the fields of JobControls.
const JobControlFieldManager = "sequentialjob-controller-job-control"

// Problem is something only the cluster knows that stops the next step's Job
// from being created: a missing ServiceAccount, an exceeded quota, a
// terminating namespace, or any other error of the apiserver.
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

// Render computes the desired state. It never modifies its input.
func Render(obs Observed, now time.Time) Desired {
	// Status times are stored with second precision; truncating here keeps a
	// freshly computed time equal to its stored copy on the next reconcile.
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	sj := obs.SequentialJob

	jobs := classify(sj, obs.Jobs, obs.Pods)
	plan := decide(obs, jobs, newRecord(sj, jobs, ts), ts)

	var desired Desired
	if plan.next != nil {
		desired.Jobs = append(desired.Jobs, desiredJob(sj, *plan.next, resultsBefore(plan.steps, plan.finally, plan.next.ref)))
	}
	desired.JobControls = jobControls(sj, plan.controls)
	desired.Status = runStatus(sj, plan, ts)
	desired.StatusChanged = !equality.Semantic.DeepEqual(sj.Status, desired.Status)
	if desired.StatusChanged {
		desired.StatusApply = statusApply(sj, desired.Status)
	}
	desired.Release = releasable(jobs, desired.Status)
	desired.Transitions = Transitions(sj.Status, desired.Status)
	desired.Events = events(sj, plan, desired.Status, desired.Transitions)
	desired.Blocked = plan.conflict != nil
	desired.Problem = plan.problem
	wake := plan.deadline
	if expiry := expiryOf(sj, desired.Status); expiry != nil {
		if !ts.Time.Before(*expiry) {
			desired.Delete = true
			desired.Events = append(desired.Events, Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventExpired, Message: fmt.Sprintf(
				"the run finished %s at %s and spec.ttlSecondsAfterFinished (%d) has passed: deleting the SequentialJob and its Jobs",
				desired.Status.Phase, desired.Status.CompletionTime.UTC().Format(time.RFC3339), *sj.Spec.TTLSecondsAfterFinished)})
		}
		wake = expiry
	}
	if wake != nil && !desired.Delete {
		desired.RequeueAfter = max(wake.Sub(now), time.Second)
	}
	return desired
}

// expiryOf is when a finished run's ttlSecondsAfterFinished passes.
func expiryOf(sj *v1alpha1.SequentialJob, status v1alpha1.SequentialJobStatus) *time.Time {
	ttl := sj.Spec.TTLSecondsAfterFinished
	if ttl == nil || !terminal(status.Phase) || status.CompletionTime == nil {
		return nil
	}
	at := status.CompletionTime.Add(time.Duration(*ttl) * time.Second)
	return &at
}

// jobControls are the plan's changes to running Jobs as apply intents:
// only the fields they change, applied by JobControlFieldManager.
func jobControls(sj *v1alpha1.SequentialJob, controls []jobControl) []*batchv1ac.JobApplyConfiguration {
	var out []*batchv1ac.JobApplyConfiguration
	for _, c := range controls {
		spec := batchv1ac.JobSpec()
		if c.suspend != nil {
			spec.WithSuspend(*c.suspend)
		}
		if c.stop {
			// The Job controller fails a Job whose activeDeadlineSeconds has
			// passed (reason DeadlineExceeded) and deletes its pods: the
			// Job API's own way to stop a Job and keep its record.
			spec.WithActiveDeadlineSeconds(1)
		}
		out = append(out, batchv1ac.Job(c.job, sj.Namespace).WithSpec(spec))
	}
	return out
}
