package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestMissingServiceAccountRecovers: a SequentialJob whose template names a
// ServiceAccount that does not exist waits with a condition that says so,
// and runs once the ServiceAccount is created. The controller finds out
// with a read of its own, which its shipped role must allow.
func TestMissingServiceAccountRecovers(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "needs-runner"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a").Duration("1s").ServiceAccount("runner").Obj())
	waitForSJ(t, ns, name, "to report the missing ServiceAccount", func(sj *v1alpha1.SequentialJob) bool {
		c := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionResourcesUnavailable)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonServiceAccountNotFound &&
			strings.Contains(c.Message, `ServiceAccount "runner"`)
	})
	require.NoError(t, k8s.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"}}))
	sj := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Nil(t, apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionResourcesUnavailable), "the condition is gone once resolved")
}
