package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// reportError reports a failed reconcile on the seed's three channels — a
// condition (once render can place it), a Warning event and a structured
// log line — and returns the error so that the workqueue retries with
// exponential backoff. It is for failures before the Jobs are known: status
// is left alone then, since rendering without the Jobs would read every
// running step as deleted.
func (r *Reconciler) reportError(ctx context.Context, sj *v1alpha1.SequentialJob, doing string, err error) (reconcile.Result, error) {
	log.FromContext(ctx).Error(err, "Failed to reconcile", "phase", doing)
	r.Recorder.Eventf(sj, nil, corev1.EventTypeWarning, v1alpha1.EventReconciliationFailed, "Reconcile", "Failed to reconcile: %s: %v", doing, err)
	return reconcile.Result{}, err
}

// withCreateError adds a failed Job create to what was observed, so that
// render turns it into status. The name of the Job is not looked up before
// it is created (that read would cost every step): a Job someone else made
// under it makes the apply fail, since a Job's template is immutable and it
// may have only one controller, and only then is the name read, so render
// reports a JobNameConflict. Otherwise a rejection as invalid fails the
// step (it would be rejected again), and anything else holds the step and
// is retried.
func (r *Reconciler) withCreateError(ctx context.Context, obs render.Observed, job *batchv1ac.JobApplyConfiguration, err error) (render.Observed, error) {
	if rejectedAsInvalid(err) || apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		before := len(obs.Jobs)
		if lookErr := r.lookUpJobName(ctx, &obs, *job.Name); lookErr != nil {
			return obs, lookErr
		}
		if len(obs.Jobs) > before {
			return obs, nil
		}
	}
	if rejectedAsInvalid(err) {
		rejected := map[string]render.Rejection{job.Labels[v1alpha1.LabelStepName]: {Reason: v1alpha1.ReasonJobRejected, Message: apiMessage(err)}}
		for name, r := range obs.Rejected {
			rejected[name] = r
		}
		obs.Rejected = rejected
		return obs, nil
	}
	problem := problemFor("creating the step's Job", err)
	obs.Problem = &problem
	return obs, nil
}

// rejectedAsInvalid is true for the apiserver's answer to an object that
// can never be accepted as it is: 422 Invalid (validation, and admission
// policies that deny with that reason) or 400 Bad Request.
func rejectedAsInvalid(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

// apiMessage is the apiserver's own words for err.
func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// problemFor turns an apiserver error into a condition. Errors the user or
// the cluster admin must fix are ResourcesUnavailable, with a precise reason;
// the rest are the seed's ReconciliationError.
func problemFor(doing string, err error) render.Problem {
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return render.Problem{ConditionType: v1alpha1.ConditionResourcesUnavailable, Reason: v1alpha1.ReasonNamespaceTerminating,
			Message: "the namespace is being deleted, so no new Job can be created in it"}
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota"):
		// "exceeded quota: ...", or "status unknown for quota" before the
		// quota controller has counted usage: both clear up by themselves.
		// The quota admission plugin sets no status cause to match instead.
		return render.Problem{ConditionType: v1alpha1.ConditionResourcesUnavailable, Reason: v1alpha1.ReasonQuotaExceeded,
			Message: fmt.Sprintf("a ResourceQuota forbids creating the step's Job: %v", err)}
	}
	return render.Problem{ConditionType: v1alpha1.ConditionFailed, Reason: v1alpha1.ReasonReconciliationError,
		Message: fmt.Sprintf("Failed to reconcile: %s: %v", doing, err)}
}
