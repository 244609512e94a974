package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestWorkspaceClaimRetained: a 2-step run with one claim template and
// whenFinished: Retain. The claim is created and bound (by the local
// cluster's binder and host-path provisioner), the pods of both steps'
// Jobs mount it, it outlives the finished run, and it goes with the run.
// (kwok pods do not run, so no file is written: that the same claim is
// mounted by both steps' pods is what makes step 1 read step 0's files.)
func TestWorkspaceClaimRetained(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "workspace"
	claimName := render.ClaimName(name, "ws")
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("write", "read").Duration("200ms").Workspace("ws", v1alpha1.ClaimRetentionRetain).Obj())

	waitFor(t, "claim "+claimName+" to be Bound", func(ctx context.Context) (bool, error) {
		claim := &corev1.PersistentVolumeClaim{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: claimName}, claim); err != nil {
			return false, err
		}
		return claim.Status.Phase == corev1.ClaimBound, nil
	})
	done := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Phase, "status: %+v", done.Status)
	requireStepPodsMount(t, ns, name, claimName, done)

	claim := &corev1.PersistentVolumeClaim{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: claimName}, claim), "Retain keeps the claim of a finished run")
	require.Nil(t, claim.DeletionTimestamp, "Retain keeps the claim of a finished run")

	require.NoError(t, k8s.Delete(context.Background(), done))
	waitForClaimGone(t, ns, claimName)
	waitFor(t, "the SequentialJob to go", func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.SequentialJob{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// TestWorkspaceClaimDeletedWhenFinished: with the default whenFinished
// (Delete), the claim is deleted once the run finishes, while the run stays.
// It is Terminating, not gone: the finished steps' pods still reference it,
// and the pvc-protection finalizer keeps a claim while any scheduled pod
// does. It goes once they do, with the run.
func TestWorkspaceClaimDeletedWhenFinished(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "scratch"
	claimName := render.ClaimName(name, "ws")
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("write", "read").Duration("200ms").Workspace("ws", "").Obj())

	done := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Phase, "status: %+v", done.Status)
	requireStepPodsMount(t, ns, name, claimName, done)
	waitFor(t, "claim "+claimName+" to be deleted", func(ctx context.Context) (bool, error) {
		claim := &corev1.PersistentVolumeClaim{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: claimName}, claim)
		return apierrors.IsNotFound(err) || claim.DeletionTimestamp != nil, client.IgnoreNotFound(err)
	})
	require.NoError(t, k8s.Delete(context.Background(), getSJ(t, ns, name)))
	waitForClaimGone(t, ns, claimName)
}

// requireStepPodsMount checks that a pod of each step's Job has the claim
// as its volume, mounted by its container.
func requireStepPodsMount(t *testing.T, ns, name, claimName string, sj *v1alpha1.SequentialJob) {
	t.Helper()
	pods := &corev1.PodList{}
	require.NoError(t, k8s.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSequentialJob: name}))
	for _, step := range sj.Status.Steps {
		mounted := false
		for _, pod := range pods.Items {
			if pod.Labels[v1alpha1.LabelStepName] != step.Name {
				continue
			}
			for _, v := range pod.Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claimName &&
					len(pod.Spec.Containers[0].VolumeMounts) > 0 && pod.Spec.Containers[0].VolumeMounts[0].Name == v.Name {
					mounted = true
				}
			}
		}
		require.True(t, mounted, "a pod of step %s mounts claim %s (pods: %d)", step.Name, claimName, len(pods.Items))
	}
}

func waitForClaimGone(t *testing.T, ns, claimName string) {
	t.Helper()
	waitFor(t, "claim "+claimName+" to be deleted", func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: claimName}, &corev1.PersistentVolumeClaim{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}
