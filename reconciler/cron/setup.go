package cron

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Least privilege: SequentialCronJobs are listed and watched (cached, never
// read live) and their status applied; their runs (SequentialJobs) are
// created and deleted (history limits, Replace), and read through the
// cache the SequentialJob controller shares (its role lists and watches
// them); events are only created. A run's owner reference sets
// blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement
// admission plugin allows only with update on sequentialcronjobs/finalizers.
//
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialcronjobs,verbs=list;watch
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialcronjobs/status,verbs=patch
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialcronjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialjobs,verbs=create;delete

// runsByCron indexes the cached SequentialJobs by the UID of the
// SequentialCronJob that controls them.
const runsByCron = "sequentialcronjob"

func cronOf(obj client.Object) []string {
	if owner := metav1.GetControllerOfNoCopy(obj); owner != nil && owner.Kind == "SequentialCronJob" && owner.APIVersion == v1alpha1.GroupVersion.String() {
		return []string{string(owner.UID)}
	}
	return nil
}

// SetupWithManager registers the controller: it watches SequentialCronJobs
// (their spec) and the SequentialJobs they control, when one is created,
// changes phase, starts being deleted or is gone.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.SequentialJob{}, runsByCron, cronOf); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.SequentialCronJob{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&v1alpha1.SequentialJob{}, builder.WithPredicates(runChanged())).
		Named("sequentialcronjob").
		Complete(r)
}

// runChanged passes what the decision reads of a run: its phase (active,
// succeeded, failed), its completion and its deletion.
func runChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*v1alpha1.SequentialJob)
		cur, okNew := e.ObjectNew.(*v1alpha1.SequentialJob)
		if !okOld || !okNew {
			return true
		}
		return old.Status.Phase != cur.Status.Phase || (old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
			!old.Status.CompletionTime.Equal(cur.Status.CompletionTime)
	}}
}
