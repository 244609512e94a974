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
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// Observed is everything one reconcile knows about one SequentialJob.
type Observed struct {
	SequentialJob *v1alpha1.SequentialJob `json:"sequentialJob"`
	// Jobs are the Jobs labelled for the SequentialJob, plus any Job found
	// by name where a step's Job would go.
	Jobs []batchv1.Job `json:"jobs,omitempty"`
	// Answers are what the cluster said about the Needs of a render of the
	// same SequentialJob and Jobs; nil before the reconciler asked. A render
	// with answers needs nothing more.
	Answers *Answers `json:"answers,omitempty"`
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
	// Needs, when not empty, is what the decision needs from the cluster
	// first: the reconciler fetches it and renders again, and applies
	// nothing of this result.
	Needs Needs

	// Job is the Job to create, if any, as a whole intent for server-side
	// apply. An existing Job never appears here: a Job's template is
	// immutable, and a step's Job is never re-rendered from a changed spec.
	Job *batchv1ac.JobApplyConfiguration

	// Claims are the run's volume claims (spec.volumeClaimTemplates), as
	// whole apply intents, to apply before Job: with every step that
	// starts, so a claim exists before the first step and again after a
	// retry of a run whose claims were deleted when it finished.
	Claims []*corev1ac.PersistentVolumeClaimApplyConfiguration

	// DeleteClaims name the claims to delete before Status is written: the
	// run finishes now and volumeClaimRetention.whenFinished is Delete.
	DeleteClaims []string

	// JobControls change running steps' Jobs (spec.suspend, or
	// spec.activeDeadlineSeconds to stop one): small intents applied with
	// their own field manager, JobControlFieldManager, so that the
	// creating intents above keep owning the rest of each Job.
	JobControls []*batchv1ac.JobApplyConfiguration

	// Status is the whole status to write; observed is the one it replaces.
	Status   v1alpha1.SequentialJobStatus
	observed v1alpha1.SequentialJobStatus
	sj       *v1alpha1.SequentialJob

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

	// Requeue is when to look at the run again though nothing the
	// controller watches changes.
	Requeue Requeue
}

// StatusChanged is false when Status equals the observed status, so the
// reconciler writes nothing.
func (d Desired) StatusChanged() bool { return !equality.Semantic.DeepEqual(d.observed, d.Status) }

// StatusApply is Status as a server-side apply intent for the status
// subresource, always whole: a field left out of an apply is removed.
func (d Desired) StatusApply() *sjac.SequentialJobApplyConfiguration {
	return statusApply(d.sj, d.Status)
}

// LookAgain says when to look at a run again.
type LookAgain string

const (
	// LookOnChange: only when something the controller watches changes,
	// or after Requeue.After when it is set (the run deadline or the
	// ttlSecondsAfterFinished passes then).
	LookOnChange LookAgain = ""
	// LookPoll: after Requeue.After, at most BlockedPoll: the run waits for
	// something no watch of ours reports (a Job with our name that we do
	// not own).
	LookPoll LookAgain = "Poll"
	// LookBackoff: retry with exponential backoff until Requeue.Problem
	// clears.
	LookBackoff LookAgain = "Backoff"
	// LookDelete: spec.ttlSecondsAfterFinished has passed: delete the
	// SequentialJob, and its Jobs go with it.
	LookDelete LookAgain = "Delete"
)

// BlockedPoll is how often a blocked run looks again.
const BlockedPoll = 30 * time.Second

// Requeue is when to look at the run again.
type Requeue struct {
	Look LookAgain
	// After, when above zero, is how long to wait (LookOnChange, LookPoll).
	After time.Duration
	// Problem is what is retried (LookBackoff).
	Problem *Problem
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
	// Since is when the reconciler first met an apiserver error that has
	// held the run ever since. Such an error is reported as Failed only
	// once it is ErrorGracePeriod old.
	Since *metav1.Time `json:"since,omitempty"`
}

// Error lets the reconciler log a Problem.
func (p *Problem) Error() string { return p.Reason + ": " + p.Message }

// IsError is true for an apiserver error, as opposed to a condition of the
// cluster the user must fix (ResourcesUnavailable).
func (p *Problem) IsError() bool { return p.ConditionType != v1alpha1.ConditionResourcesUnavailable }

// Reported is true when the run shows the problem as a failure to act on
// at now: a cluster condition at once, an apiserver error once it is
// ErrorGracePeriod old.
func (p *Problem) Reported(now time.Time) bool { return p.state(metav1.NewTime(now)) != stateRetrying }

// state is the run state a problem holds the run in.
func (p *Problem) state(now metav1.Time) runState {
	switch {
	case p.ConditionType == v1alpha1.ConditionResourcesUnavailable:
		return stateHeld
	case p.Since != nil && now.Sub(p.Since.Time) >= ErrorGracePeriod:
		return stateErroring
	}
	return stateRetrying
}

// Render computes the desired state. It never modifies its input.
func Render(obs Observed, now time.Time) Desired {
	// Status times are stored with second precision; truncating here keeps a
	// freshly computed time equal to its stored copy on the next reconcile.
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	sj := obs.SequentialJob

	jobs := classify(sj, obs.Jobs, obs.Answers.pods())
	rec := newRecord(sj, jobs, ts)
	d := decide(obs, jobs, rec, ts)

	desired := Desired{sj: sj, observed: sj.Status}
	if obs.Answers == nil {
		desired.Needs = needsOf(sj, jobs, d)
	}
	if d.next != nil {
		desired.Job = desiredJob(sj, *d.next, resultsBefore(d.steps, d.finally, d.next.ref))
		desired.Claims = desiredClaims(sj)
	}
	desired.JobControls = jobControls(sj, d.controls)
	desired.Status = runStatus(sj, rec, d, ts)
	desired.DeleteClaims = claimsToDelete(sj, desired.Status)
	desired.Release = releasable(jobs, desired.Status)
	desired.Transitions = Transitions(sj.Status, desired.Status)
	desired.Events = events(sj, rec, d, desired.Status, desired.Transitions)
	desired.Requeue = requeueOf(sj, d, desired.Status, ts.Time)
	if desired.Requeue.Look == LookDelete {
		desired.Events = append(desired.Events, expiredEvent(sj, desired.Status))
	}
	return desired
}

// requeueOf is when to look again: the state's row, at the run deadline,
// or when ttlSecondsAfterFinished passes.
func requeueOf(sj *v1alpha1.SequentialJob, d decision, status v1alpha1.SequentialJobStatus, now time.Time) Requeue {
	out := Requeue{Look: states[d.state].look}
	wake := d.deadline
	if expiry := expiryOf(sj, status); expiry != nil {
		if !now.Before(*expiry) {
			return Requeue{Look: LookDelete}
		}
		wake = expiry
	}
	switch out.Look {
	case LookBackoff:
		out.Problem = d.problem
	case LookPoll:
		out.After = BlockedPoll
		if wake != nil {
			out.After = min(out.After, max(wake.Sub(now), time.Second))
		}
	default:
		if wake != nil {
			out.After = max(wake.Sub(now), time.Second)
		}
	}
	return out
}

// expiryOf is when a finished run's ttlSecondsAfterFinished passes.
func expiryOf(sj *v1alpha1.SequentialJob, status v1alpha1.SequentialJobStatus) *time.Time {
	ttl := sj.Spec.TTLSecondsAfterFinished
	if ttl == nil || !status.Phase.Terminal() || status.CompletionTime == nil {
		return nil
	}
	at := status.CompletionTime.Add(time.Duration(*ttl) * time.Second)
	return &at
}

func expiredEvent(sj *v1alpha1.SequentialJob, status v1alpha1.SequentialJobStatus) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: v1alpha1.EventExpired, Message: fmt.Sprintf(fmtExpired,
		status.Phase, status.CompletionTime.UTC().Format(time.RFC3339), *sj.Spec.TTLSecondsAfterFinished)}
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
