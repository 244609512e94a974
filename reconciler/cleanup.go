package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// EventCleanup is the reason of the events that tell about deletion.
const EventCleanup = v1alpha1.EventCleanup

// cleanupPoll is how soon a deletion looks again while Jobs still exist.
// Each Job's deletion also wakes the reconciler through the Jobs watch.
const cleanupPoll = 2 * time.Second

// ensureFinalizer adds the finalizer with an optimistic-locked patch, so the
// SequentialJob cannot disappear before its Jobs are terminated.
func (r *Reconciler) ensureFinalizer(ctx context.Context, sj *v1alpha1.SequentialJob) error {
	if controllerutil.ContainsFinalizer(sj, Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(sj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(sj, Finalizer)
	if err := r.Client.Patch(ctx, sj, patch); err != nil {
		return err
	}
	r.expect.wroteSequentialJob(sj.UID, sj.ResourceVersion)
	return nil
}

// cleanup terminates the SequentialJob's Jobs and removes the finalizer only
// once the apiserver confirms none is left. Background propagation deletes
// each Job at once; the garbage collector then deletes its pods. A Job's
// step-result finalizer goes too: the run's record goes with the
// SequentialJob.
func (r *Reconciler) cleanup(ctx context.Context, sj *v1alpha1.SequentialJob) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(sj, Finalizer) {
		return reconcile.Result{}, nil
	}
	jobs, err := listJobs(ctx, r.APIReader, sj)
	if err != nil {
		return r.retryLater(ctx, sj, "listing Jobs to delete", err)
	}
	var remaining, deleted []string
	for i := range jobs {
		job := &jobs[i]
		if ref := metav1.GetControllerOfNoCopy(job); ref == nil || ref.UID != sj.UID {
			continue
		}
		remaining = append(remaining, job.Name)
		if err := releaseJob(ctx, r.Client, job); err != nil {
			return r.retryLater(ctx, sj, "releasing Job "+job.Name, err)
		}
		if !job.DeletionTimestamp.IsZero() {
			continue
		}
		err := r.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &job.UID})
		if client.IgnoreNotFound(err) != nil {
			return r.retryLater(ctx, sj, "deleting Job "+job.Name, err)
		}
		deleted = append(deleted, job.Name)
	}
	if len(deleted) > 0 {
		r.Recorder.Eventf(sj, nil, corev1.EventTypeNormal, EventCleanup, "Delete",
			"deleting %d Job(s) and their pods: %s", len(deleted), strings.Join(deleted, ", "))
	}
	claims, err := r.deleteClaims(ctx, sj)
	if err != nil {
		return r.retryLater(ctx, sj, "deleting the run's volume claims", err)
	}
	if len(remaining) > 0 || len(claims) > 0 {
		return reconcile.Result{RequeueAfter: cleanupPoll}, nil
	}

	patch := client.MergeFromWithOptions(sj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(sj, Finalizer)
	if err := r.Client.Patch(ctx, sj, patch); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(fmt.Errorf("removing finalizer: %w", err))
	}
	r.expect.forget(sj.UID)
	r.retries.forget(sj.UID)
	r.Metrics.forget(sj.UID)
	r.Recorder.Eventf(sj, nil, corev1.EventTypeNormal, EventCleanup, "Delete", "all Jobs are gone; finalizer removed")
	return reconcile.Result{}, nil
}
