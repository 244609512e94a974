package reconciler

import (
	"context"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// reportError reports a failed reconcile on the seed's three channels — a
// condition (through reportProblem), a Warning event and a structured log
// line — and returns the error so that the workqueue retries with
// exponential backoff. It is for failures before the Jobs are known: status
// is left alone then, since rendering without the Jobs would read every
// running step as deleted.
func (r *Reconciler) reportError(ctx context.Context, sj *v1alpha1.SequentialJob, doing string, err error) (reconcile.Result, error) {
	log.FromContext(ctx).Error(err, "Failed to reconcile", "phase", doing)
	r.Recorder.Eventf(sj, nil, corev1.EventTypeWarning, render.EventReconciliationFailed, "Reconcile", "Failed to reconcile: %s: %v", doing, err)
	return reconcile.Result{}, err
}

// reportProblem reports a failure once the Jobs are known: render turns it
// into a condition and a Warning event, with the next step held Pending.
func (r *Reconciler) reportProblem(ctx context.Context, sj *v1alpha1.SequentialJob, jobs []batchv1.Job, doing string, err error) (reconcile.Result, error) {
	log.FromContext(ctx).Error(err, "Failed to reconcile", "phase", doing)
	desired := render.RenderWithProblem(sj, jobs, r.Clock.Now(), problemFor(doing, err))
	if statusErr := r.applyStatus(ctx, desired); statusErr != nil {
		log.FromContext(ctx).Error(statusErr, "Failed to write the error to status")
	}
	r.record(ctx, sj, desired, r.Clock.Now())
	return reconcile.Result{}, err
}

// problemFor turns an apiserver error into a condition. Errors the user or
// the cluster admin must fix are ResourcesUnavailable, with a precise reason;
// the rest are the seed's ReconciliationError.
func problemFor(doing string, err error) render.Problem {
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return render.Problem{ConditionType: render.ConditionResourcesUnavailable, Reason: "NamespaceTerminating",
			Message: "the namespace is being deleted, so no new Job can be created in it"}
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota"):
		// "exceeded quota: ...", or "status unknown for quota" before the
		// quota controller has counted usage: both clear up by themselves.
		return render.Problem{ConditionType: render.ConditionResourcesUnavailable, Reason: "QuotaExceeded",
			Message: fmt.Sprintf("a ResourceQuota forbids creating the step's Job: %v", err)}
	}
	return render.Problem{ConditionType: v1alpha1.ConditionFailed, Reason: render.ReasonReconciliationError,
		Message: fmt.Sprintf("Failed to reconcile: %s: %v", doing, err)}
}
