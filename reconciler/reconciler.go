// Package reconciler runs SequentialJobs: observe, render, write with
// server-side apply, then announce. Every decision lives in the pure render
// package; this package only talks to the apiserver. docs/architecture.md
// follows one reconcile through these files.
package reconciler

import (
	"context"

	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// FieldManager owns every field the controller applies.
const FieldManager = "sequentialjob-controller"

// Finalizer holds a SequentialJob until its Jobs are gone.
const Finalizer = v1alpha1.FinalizerCleanup

// Reconciler reconciles SequentialJobs. Build it with New.
type Reconciler struct {
	// Client reads from the cache and writes to the apiserver.
	Client client.Client
	// Jobs applies step Jobs: client-go's typed client, which reads the
	// apply's answer as protobuf (controller-runtime's reads it as JSON,
	// managedFields and all). It is on the handoff path.
	Jobs batchv1client.JobsGetter
	// APIReader reads from the apiserver directly, for what the cache
	// cannot hold or may not show yet.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Metrics   *Metrics

	expect  *expectations
	retries *retries
}

// Reconcile brings one SequentialJob one step closer to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	observedAt := r.Clock.Now()
	sj, jobs, wait, err := r.read(ctx, req)
	if err != nil || sj == nil || wait {
		return reconcile.Result{RequeueAfter: waitRequeue(wait)}, err
	}
	if !sj.DeletionTimestamp.IsZero() {
		return r.cleanup(ctx, sj)
	}
	if err := r.ensureFinalizer(ctx, sj); err != nil {
		return r.retryLater(ctx, sj, "adding the finalizer", err)
	}

	obs := render.Observed{SequentialJob: sj, Jobs: jobs}
	if err := r.confirmMissingJobs(ctx, &obs); err != nil {
		return r.retryLater(ctx, sj, "reading a step's Job", err)
	}
	desired, obs, err := render.RenderAnswered(obs, r.Clock.Now(), func(needs render.Needs) (*render.Answers, error) {
		return r.answer(ctx, obs, needs)
	})
	if err != nil {
		return r.retryLater(ctx, sj, "asking the cluster", err)
	}
	if err := r.syncClaims(ctx, sj, desired); err != nil {
		return r.retryLater(ctx, sj, "applying or deleting the run's volume claims", err)
	}
	if desired.Job != nil {
		if desired, err = r.startStep(ctx, obs, desired); err != nil {
			return r.retryLater(ctx, sj, "reading the Job that could not be created", err)
		}
	}
	if err := r.controlJobs(ctx, desired.JobControls); err != nil {
		return r.retryLater(ctx, sj, "suspending, resuming or stopping a step's Job", err)
	}
	if err := r.writeStatus(ctx, sj, desired); err != nil {
		// No transition is announced: the next reconcile finds the same
		// transitions and announces them once their status is written.
		return r.retryLater(ctx, sj, "writing status", err)
	}
	r.announce(ctx, sj, desired, observedAt)
	if err := r.release(ctx, sj, obs.Jobs, desired.Release); err != nil {
		return r.retryLater(ctx, sj, "releasing finished Jobs", err)
	}
	return r.lookAgain(ctx, sj, desired.Requeue)
}

// lookAgain turns render's Requeue into the workqueue's: a problem is
// retried with backoff, a deadline or a poll waits, an expired run goes.
func (r *Reconciler) lookAgain(ctx context.Context, sj *v1alpha1.SequentialJob, requeue render.Requeue) (reconcile.Result, error) {
	switch requeue.Look {
	case render.LookBackoff:
		return reconcile.Result{RequeueAfter: r.retries.heldBy(ctx, sj.UID, requeue.Problem, r.Clock.Now())}, nil
	case render.LookDelete:
		r.retries.forget(sj.UID)
		return reconcile.Result{}, r.expire(ctx, sj)
	}
	r.retries.forget(sj.UID)
	return reconcile.Result{RequeueAfter: requeue.After}, nil
}
