// Package reconciler runs SequentialJobs: observe, render, write with
// server-side apply, then announce. Every decision lives in the pure render
// package; this package only talks to the apiserver.
package reconciler

import (
	"context"
	"time"

	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// FieldManager owns every field the controller applies.
const FieldManager = "sequentialjob-controller"

// Finalizer holds a SequentialJob until its Jobs are gone.
const Finalizer = v1alpha1.FinalizerCleanup

// blockedRetry is how often a run blocked by something we do not own (a
// foreign Job with our Job's name) looks again: no event of ours would wake it.
const blockedRetry = 30 * time.Second

// Reconciler reconciles SequentialJobs.
type Reconciler struct {
	// Client reads from the cache and writes to the apiserver.
	Client client.Client
	// APIReader reads from the apiserver directly, for what the cache
	// cannot hold or may not show yet.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Metrics   *Metrics

	expect *expectations
	// indexed is true once SetupWithManager has indexed the cached Jobs.
	indexed bool
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
		return r.reportError(ctx, sj, "adding the finalizer", err)
	}

	obs, err := r.observe(ctx, sj, jobs)
	if err != nil {
		return r.reportError(ctx, sj, "observing", err)
	}
	desired := render.Render(obs, r.Clock.Now())
	for _, job := range desired.Jobs {
		if err := r.createJob(ctx, sj, job); err != nil {
			// The failure is status too: render it in.
			log.FromContext(ctx).Error(err, "Failed to reconcile", "phase", "creating the step's Job")
			if obs, err = r.withCreateError(ctx, obs, job, err); err != nil {
				return r.reportError(ctx, sj, "reading the Job that could not be created", err)
			}
			desired = render.Render(obs, r.Clock.Now())
			break
		}
	}
	if err := r.controlJobs(ctx, desired.JobControls); err != nil {
		return r.reportError(ctx, sj, "suspending, resuming or stopping a step's Job", err)
	}
	if err := r.writeStatus(ctx, sj, desired); err != nil {
		// No transition is announced: the next reconcile finds the same
		// transitions and announces them once their status is written.
		return r.reportError(ctx, sj, "writing status", err)
	}
	r.announce(ctx, sj, desired, observedAt)
	if err := r.release(ctx, sj, obs.Jobs, desired.Release); err != nil {
		return r.reportError(ctx, sj, "releasing finished Jobs", err)
	}
	if desired.Delete {
		return reconcile.Result{}, r.expire(ctx, sj)
	}
	return requeue(desired)
}

// requeue asks for another look when nothing we watch will change by itself.
func requeue(desired render.Desired) (reconcile.Result, error) {
	switch {
	case desired.Problem != nil:
		return reconcile.Result{}, desired.Problem // the workqueue retries with backoff
	case desired.Blocked:
		return reconcile.Result{RequeueAfter: min(blockedRetry, nonZero(desired.RequeueAfter, blockedRetry))}, nil
	}
	// The run deadline or ttlSecondsAfterFinished passes then.
	return reconcile.Result{RequeueAfter: desired.RequeueAfter}, nil
}

func nonZero(d, otherwise time.Duration) time.Duration {
	if d == 0 {
		return otherwise
	}
	return d
}
