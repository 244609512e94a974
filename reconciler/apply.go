package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// applyJobs creates the desired Jobs with server-side apply. Names are
// deterministic, so an apply that races a lagging cache is an upsert of the
// same Job, never a second one.
func (r *Reconciler) applyJobs(ctx context.Context, jobs []*batchv1ac.JobApplyConfiguration) error {
	for _, job := range jobs {
		if err := r.Client.Apply(ctx, job, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying Job %s: %w", *job.Name, err)
		}
	}
	return nil
}

// applyStatus writes the whole status through the status subresource, and
// nothing at all when it has not changed.
func (r *Reconciler) applyStatus(ctx context.Context, desired render.Desired) error {
	if !desired.StatusChanged {
		return nil
	}
	return r.Client.Status().Apply(ctx, desired.StatusApply, client.FieldOwner(FieldManager), client.ForceOwnership)
}

// checkBeforeCreate finds what admission cannot know before a step's Job is
// created: a ServiceAccount the template names but that does not exist.
// The Job would be created, but its pods never would, and the step would
// hang. The read is live: ServiceAccounts are not worth caching for a check
// made once per step.
func (r *Reconciler) checkBeforeCreate(ctx context.Context, sj *v1alpha1.SequentialJob, desired render.Desired) (*render.Problem, error) {
	name := sj.Spec.Template.Spec.ServiceAccountName
	if len(desired.Jobs) == 0 || name == "" {
		return nil, nil
	}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: sj.Namespace, Name: name}, &corev1.ServiceAccount{})
	switch {
	case apierrors.IsNotFound(err):
		return &render.Problem{
			ConditionType: render.ConditionResourcesUnavailable,
			Reason:        "ServiceAccountNotFound",
			Message:       fmt.Sprintf("ServiceAccount %q named in spec.template.spec.serviceAccountName does not exist in namespace %q", name, sj.Namespace),
		}, nil
	case err != nil:
		return nil, err
	}
	return nil, nil
}
