package gitops_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// immutableFile is a SequentialJob as a user keeps it in Git.
const immutableFile = `apiVersion: batch.example.com/v1alpha1
kind: SequentialJob
metadata:
  name: immutable
spec:
  updateStrategy:
    type: Immutable
  containers:
  - name: a
    image: busybox
  - name: b
    image: busybox
`

// TestImmutableWithoutPolicy: spec.updateStrategy.type Immutable holds on a
// real apiserver with the CRD alone, no ValidatingAdmissionPolicy installed.
// Once status says a step started, a spec edit is rejected with the CRD's
// message, while the controller's status writes, metadata-only updates
// (labels) and a sync of the unchanged file still go through.
func TestImmutableWithoutPolicy(t *testing.T) {
	env := sharedAPIServer(t)
	ctx := context.Background()

	var policies admissionregistrationv1.ValidatingAdmissionPolicyList
	require.NoError(t, env.Client.List(ctx, &policies))
	require.Empty(t, policies.Items, "this test shows the CRD alone enforces Immutable")

	ns := newNamespace(t, env.Client)
	file := func(edit func(u *unstructured.Unstructured)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		require.NoError(t, yaml.Unmarshal([]byte(immutableFile), &u.Object))
		if edit != nil {
			edit(u)
		}
		return u
	}
	// Applied as Flux's kustomize-controller does, on every sync.
	apply := func(u *unstructured.Unstructured) error {
		return appliers["kustomize-controller"](t, env, ns, "", u)
	}
	require.NoError(t, apply(file(nil)))
	key := client.ObjectKey{Namespace: ns, Name: "immutable"}

	// The controller records that step a started, through the status
	// subresource.
	started := metav1.NewTime(time.Now().Truncate(time.Second))
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, env.Client.Get(ctx, key, sj))
	sj.Status = v1alpha1.SequentialJobStatus{
		ObservedGeneration: sj.Generation,
		Phase:              v1alpha1.PhaseRunning,
		StartTime:          &started,
		Steps: []v1alpha1.StepStatus{
			{Name: "a", JobName: "immutable-0", Phase: v1alpha1.PhaseRunning, StartTime: &started},
			{Name: "b", JobName: "immutable-1", Phase: v1alpha1.PhasePending},
		},
	}
	require.NoError(t, env.Client.Status().Update(ctx, sj), "status write before the edit")

	t.Run("spec edit rejected", func(t *testing.T) {
		err := apply(file(func(u *unstructured.Unstructured) {
			containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
			containers[1].(map[string]any)["image"] = "alpine"
			require.NoError(t, unstructured.SetNestedSlice(u.Object, containers, "spec", "containers"))
		}))
		require.Error(t, err)
		t.Logf("the apiserver says: %v", err)
		assert.True(t, apierrors.IsInvalid(err), "want 422 Invalid, got %v", err)
		assert.Contains(t, err.Error(), `SequentialJob.batch.example.com "immutable" is invalid: spec: Forbidden: spec is immutable: spec.updateStrategy.type is Immutable and the first step has started; delete and re-create the SequentialJob to run a different spec`)

		live := &v1alpha1.SequentialJob{}
		require.NoError(t, env.Client.Get(ctx, key, live))
		assert.Equal(t, "busybox", live.Spec.Containers[1].Image, "the stored spec is unchanged")
	})

	t.Run("switch to Continue rejected", func(t *testing.T) {
		err := apply(file(func(u *unstructured.Unstructured) {
			require.NoError(t, unstructured.SetNestedField(u.Object, "Continue", "spec", "updateStrategy", "type"))
		}))
		require.Error(t, err, "the old object's strategy decides")
		assert.Contains(t, err.Error(), "spec: Forbidden: spec is immutable")
	})

	t.Run("status write accepted", func(t *testing.T) {
		live := &v1alpha1.SequentialJob{}
		require.NoError(t, env.Client.Get(ctx, key, live))
		finished := metav1.NewTime(started.Add(time.Minute))
		live.Status.Steps[0].Phase = v1alpha1.PhaseSucceeded
		live.Status.Steps[0].CompletionTime = &finished
		live.Status.Steps[1].Phase = v1alpha1.PhaseRunning
		live.Status.Steps[1].StartTime = &finished
		require.NoError(t, env.Client.Status().Update(ctx, live))

		require.NoError(t, env.Client.Get(ctx, key, live))
		assert.Equal(t, v1alpha1.PhaseRunning, live.Status.Steps[1].Phase)
	})

	t.Run("label change accepted", func(t *testing.T) {
		// As kubectl label does: a merge patch of metadata.
		live := &v1alpha1.SequentialJob{}
		require.NoError(t, env.Client.Get(ctx, key, live))
		patch := client.MergeFrom(live.DeepCopy())
		live.Labels = map[string]string{"team": "data"}
		require.NoError(t, env.Client.Patch(ctx, live, patch))

		require.NoError(t, env.Client.Get(ctx, key, live))
		assert.Equal(t, "data", live.Labels["team"])
	})

	t.Run("sync of the unchanged file accepted", func(t *testing.T) {
		require.NoError(t, apply(file(nil)))
	})
}
