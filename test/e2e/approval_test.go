package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestApprovalGate: a gate before deploy holds the run (phase Waiting, the
// AwaitingApproval condition, no Job for deploy) until it is approved
// through the kubectl plugin built from this checkout; the run then
// completes, and managedFields names the approver's field manager.
func TestApprovalGate(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "gated"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("build", "deploy").Duration("200ms").Gate("deploy").Obj())

	sj := waitForSJ(t, ns, name, "to wait for approval", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseWaiting })
	c := meta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionAwaitingApproval)
	require.NotNil(t, c, "the AwaitingApproval condition: %v", sj.Status.Conditions)
	assert.Equal(t, metav1.ConditionTrue, c.Status)
	assert.Equal(t, v1alpha1.ReasonAwaitingApproval, c.Reason)
	assert.Contains(t, c.Message, "step 1 (deploy) waits for approval")
	require.Len(t, sj.Status.Steps, 2)
	assert.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Steps[0].Phase)
	assert.Equal(t, v1alpha1.PhasePending, sj.Status.Steps[1].Phase)
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.ReasonAwaitingApproval)

	// It holds: a while later there is still no Job for deploy.
	time.Sleep(2 * time.Second)
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-1"}, &batchv1.Job{})
	require.True(t, apierrors.IsNotFound(err), "no Job for the gated step before approval: %v", err)
	assert.Equal(t, v1alpha1.PhaseWaiting, getSJ(t, ns, name).Status.Phase)

	plugin := buildPlugin(t)
	out, err := triggerWith(plugin, "approve", name, "-n", ns, "--step", "build")
	require.Error(t, err, "a step without a gate is refused")
	assert.Contains(t, out, `step "build" has no approval gate`)

	out, err = triggerWith(plugin, "approve", name, "-n", ns, "--step", "deploy")
	require.NoError(t, err, out)
	assert.Contains(t, out, "step deploy approved (field manager kubectl-sequentialjob-approve/")

	sj = waitForSJ(t, ns, name, "to succeed once approved", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase)
	assert.Equal(t, []string{"deploy"}, sj.Spec.ApprovedSteps)
	assert.Nil(t, meta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionAwaitingApproval))
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventApproved)

	var approver string
	for _, m := range sj.ManagedFields {
		if strings.HasPrefix(m.Manager, "kubectl-sequentialjob-approve/") && managedBy(sj, m.Manager, "f:approvedSteps") {
			approver = m.Manager
		}
	}
	require.NotEmpty(t, approver, "a kubectl-sequentialjob-approve/<user> manager owns spec.approvedSteps: %v", sj.ManagedFields)
	assert.NotEqual(t, "kubectl-sequentialjob-approve/unknown", approver, "the apiserver named the approver")
	t.Logf("approved by field manager %s", approver)
}
