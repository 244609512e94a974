package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// syncClaims applies the run's volume claims before a step's Job is
// created, with server-side apply under the Jobs' field manager (an apply
// of an unchanged claim changes nothing), and deletes them when the run
// finishes under whenFinished: Delete, before the terminal status is
// written: a failed delete is retried with the same transition.
func (r *Reconciler) syncClaims(ctx context.Context, sj *v1alpha1.SequentialJob, desired render.Desired) error {
	for _, claim := range desired.Claims {
		if err := r.Client.Apply(ctx, claim, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying PersistentVolumeClaim %s: %w", *claim.Name, err)
		}
	}
	for _, name := range desired.DeleteClaims {
		claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: sj.Namespace, Name: name}}
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, claim)); err != nil {
			return fmt.Errorf("deleting PersistentVolumeClaim %s: %w", name, err)
		}
	}
	return nil
}

// dryRunClaims submits each claim with a server-side dry-run create, as
// dryRun does for Jobs: only a rejection as invalid fails the steps that
// mount it; a claim that already exists (a later edit) passes.
func (r *Reconciler) dryRunClaims(ctx context.Context, claims []*corev1ac.PersistentVolumeClaimApplyConfiguration) map[string]render.Rejection {
	var rejected map[string]render.Rejection
	for _, want := range claims {
		err := r.Client.Create(ctx, render.ClaimOf(want), client.DryRunAll, client.FieldOwner(FieldManager))
		if !rejectedAsInvalid(err) {
			if err != nil && !apierrors.IsAlreadyExists(err) {
				log.FromContext(ctx).Info("Dry-run of a volume claim failed; its creation will tell", "claim", *want.Name, "error", err.Error())
			}
			continue
		}
		if rejected == nil {
			rejected = map[string]render.Rejection{}
		}
		rejected[render.ClaimTemplateOf(want)] = render.Rejection{Reason: v1alpha1.ReasonInvalidStep, Message: apiMessage(err)}
	}
	return rejected
}

// deleteClaims deletes the SequentialJob's claims on deletion and says how
// many are left: the finalizer waits for them as it waits for Jobs. They
// are listed live, by label and controller, only when the spec has claim
// templates; a claim of a template an edit removed goes with the
// SequentialJob through its owner reference.
func (r *Reconciler) deleteClaims(ctx context.Context, sj *v1alpha1.SequentialJob) (remaining []string, err error) {
	if len(sj.Spec.VolumeClaimTemplates) == 0 {
		return nil, nil
	}
	list := &corev1.PersistentVolumeClaimList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(sj.Namespace), client.MatchingLabels{v1alpha1.LabelSequentialJob: sj.Name}); err != nil {
		return nil, fmt.Errorf("listing PersistentVolumeClaims: %w", err)
	}
	for i := range list.Items {
		claim := &list.Items[i]
		if ref := metav1.GetControllerOfNoCopy(claim); ref == nil || ref.UID != sj.UID {
			continue
		}
		remaining = append(remaining, claim.Name)
		if !claim.DeletionTimestamp.IsZero() {
			continue
		}
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, claim, client.Preconditions{UID: &claim.UID})); err != nil {
			return nil, fmt.Errorf("deleting PersistentVolumeClaim %s: %w", claim.Name, err)
		}
	}
	return remaining, nil
}
