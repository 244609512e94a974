// Package reconciler runs SequentialJobs: read, render, apply with
// server-side apply, record events. Every decision lives in the pure render
// package; this package only talks to the apiserver.
package reconciler

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// FieldManager owns every field the controller applies.
const FieldManager = "sequentialjob-controller"

// Finalizer holds a SequentialJob until its Jobs are gone.
const Finalizer = "batch.example.com/sequentialjob-cleanup"

// blockedRetry is how often a run blocked by something we do not own (a
// foreign Job with our Job's name) looks again: no event of ours would wake it.
const blockedRetry = 30 * time.Second

// Reconciler reconciles SequentialJobs.
type Reconciler struct {
	// Client reads from the cache and writes to the apiserver.
	Client client.Client
	// APIReader reads from the apiserver directly. Decisions that skip or
	// destroy work confirm with it, since the cache may lag.
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Clock     clock.PassiveClock
	Metrics   *Metrics
}

// Reconcile brings one SequentialJob one step closer to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	observedAt := r.Clock.Now()
	sj := &v1alpha1.SequentialJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, sj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !sj.DeletionTimestamp.IsZero() {
		return r.cleanup(ctx, sj)
	}
	if err := r.ensureFinalizer(ctx, sj); err != nil {
		return r.reportError(ctx, sj, "adding the finalizer", err)
	}

	jobs, err := listJobs(ctx, r.Client, sj)
	if err != nil {
		return r.reportError(ctx, sj, "listing Jobs", err)
	}
	desired := render.Render(sj, jobs, r.Clock.Now())

	// Every write is decided on live state. The cache can lag behind our own
	// last write: acting on it would repeat a transition (its event, its
	// metric), end a step whose new Job it has not seen, or race a Job we
	// just created. Reconciles that change nothing stay on the cache.
	if desired.StatusChanged || len(desired.Jobs) > 0 || desired.ConfirmWithLiveRead {
		sj, jobs, err = r.liveRead(ctx, sj, desired)
		switch {
		case apierrors.IsNotFound(err):
			return reconcile.Result{}, nil // deleted since the cache saw it
		case err != nil:
			return r.reportError(ctx, sj, "reading live state", err)
		}
		desired = render.Render(sj, jobs, r.Clock.Now())
	}

	problem, err := r.checkBeforeCreate(ctx, sj, desired)
	if err != nil {
		return r.reportProblem(ctx, sj, jobs, "checking the step's ServiceAccount", err)
	}
	if problem != nil {
		desired = render.RenderWithProblem(sj, jobs, r.Clock.Now(), *problem)
	}
	if err := r.applyJobs(ctx, desired.Jobs); err != nil {
		return r.reportProblem(ctx, sj, jobs, "creating the step's Job", err)
	}

	if err := r.applyStatus(ctx, desired); err != nil {
		return r.reportProblem(ctx, sj, jobs, "writing status", err)
	}
	r.record(ctx, sj, desired, observedAt)
	return requeue(desired)
}

// requeue asks for another look when nothing we watch will change by itself.
func requeue(desired render.Desired) (reconcile.Result, error) {
	switch {
	case desired.Problem != nil:
		return reconcile.Result{}, desired.Problem // the workqueue retries with backoff
	case desired.Blocked:
		return reconcile.Result{RequeueAfter: blockedRetry}, nil
	}
	return reconcile.Result{}, nil
}
