package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// retryLater handles a reconcile that failed before its status was
// written: status is left alone then, since rendering without what failed
// would read, say, every running step as deleted. It is retried with
// backoff. An error that persisted for render.ErrorGracePeriod is reported
// on the seed's channels, a Warning event and an error log line (the
// condition is render's, when a Job create fails); one that is younger is
// only logged at verbosity 1, and an optimistic-lock conflict (another
// writer came first) is simply tried again on a fresh read.
func (r *Reconciler) retryLater(ctx context.Context, sj *v1alpha1.SequentialJob, doing string, err error) (reconcile.Result, error) {
	after := r.retries.next(sj.UID)
	if apierrors.IsConflict(err) {
		log.FromContext(ctx).V(1).Info("Conflict; retrying on a fresh read", "phase", doing, "error", err.Error())
		return reconcile.Result{RequeueAfter: after}, nil
	}
	now := r.Clock.Now()
	reported := now.Sub(r.retries.failing(sj.UID, now)) >= render.ErrorGracePeriod
	logRetry(ctx, reported, doing, err, after)
	if reported {
		r.Recorder.Eventf(sj, nil, corev1.EventTypeWarning, v1alpha1.EventReconciliationFailed, "Reconcile", "Failed to reconcile: %s: %v", doing, err)
	}
	return reconcile.Result{RequeueAfter: after}, nil
}

// startStep creates the step's Job render decided on. A create the
// apiserver refuses is an observation too: render decides once more on it.
func (r *Reconciler) startStep(ctx context.Context, obs render.Observed, desired render.Desired) (render.Desired, error) {
	err := r.createJob(ctx, obs.SequentialJob, desired.Job)
	if err == nil {
		return desired, nil
	}
	if obs, err = r.withCreateError(ctx, obs, desired.Job, err); err != nil {
		return desired, err
	}
	return render.Render(obs, r.Clock.Now()), nil
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
	answers := render.Answers{}
	if obs.Answers != nil {
		answers = *obs.Answers
	}
	if rejectedAsInvalid(err) {
		rejected := map[string]render.Rejection{job.Labels[v1alpha1.LabelStepName]: {Reason: v1alpha1.ReasonJobRejected, Message: apiMessage(err)}}
		maps.Copy(rejected, answers.Rejected)
		answers.Rejected = rejected
	} else {
		problem := problemFor("creating the step's Job", err)
		if problem.IsError() {
			problem.Since = &metav1.Time{Time: r.retries.failing(obs.SequentialJob.UID, r.Clock.Now())}
		}
		answers.Problem = &problem
	}
	obs.Answers = &answers
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
