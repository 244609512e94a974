package reconciler_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// waitForUnavailable waits until sj reports ResourcesUnavailable with reason.
func waitForUnavailable(t *testing.T, sj *v1alpha1.SequentialJob, reason string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	require.Eventually(t, func() bool {
		cond = meta.FindStatusCondition(getSJ(t, sj).Status.Conditions, v1alpha1.ConditionResourcesUnavailable)
		return cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == reason
	}, waitFor, tick, "ResourcesUnavailable/%s was never reported", reason)
	return cond
}

// waitForCleared waits until ResourcesUnavailable is gone and the run moves on.
func waitForCleared(t *testing.T, sj *v1alpha1.SequentialJob, index int) {
	t.Helper()
	waitForJob(t, sj, index)
	require.Eventually(t, func() bool {
		got := getSJ(t, sj)
		return meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionResourcesUnavailable) == nil &&
			got.Status.Phase == v1alpha1.PhaseRunning
	}, waitFor, tick, "ResourcesUnavailable was never cleared")
}

func TestMissingServiceAccountWaitsThenRecovers(t *testing.T) {
	ctx := context.Background()
	startController(t)
	ns := newNamespace(t)
	sj := fixtures.MakeSequentialJob(ns, "needs-sa").Steps("a", "b").ServiceAccount("runner").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))

	cond := waitForUnavailable(t, sj, "ServiceAccountNotFound")
	assert.Contains(t, cond.Message, `ServiceAccount "runner"`)
	assert.Empty(t, jobsOf(t, sj), "no Job is created whose pods could never start")
	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual(true, contains(eventReasons(t, sj)[corev1.EventTypeWarning], "ServiceAccountNotFound"))
	}, waitFor, tick, "a ServiceAccountNotFound Warning event")

	require.NoError(t, env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"}}))
	waitForCleared(t, sj, 0)
	assert.Len(t, jobsOf(t, sj), 1, "step 0 runs once")
}

func TestResourceQuotaForbidsJobsThenRecovers(t *testing.T) {
	ctx := context.Background()
	startController(t)
	ns := newNamespace(t)
	// No quota controller runs under envtest, so the test sets the usage
	// the quota admission plugin reads, as that controller would.
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-jobs"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/jobs.batch": resource.MustParse("0")}},
	}
	require.NoError(t, env.Client.Create(ctx, quota))
	quota.Status = corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{"count/jobs.batch": resource.MustParse("0")},
		Used: corev1.ResourceList{"count/jobs.batch": resource.MustParse("0")},
	}
	require.NoError(t, env.Client.Status().Update(ctx, quota))

	sj := fixtures.MakeSequentialJob(ns, "over-quota").Steps("a", "b").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	cond := waitForUnavailable(t, sj, "QuotaExceeded")
	assert.Contains(t, cond.Message, "no-jobs")
	assert.Empty(t, jobsOf(t, sj))

	require.NoError(t, env.Client.Delete(ctx, quota))
	waitForCleared(t, sj, 0)
	assert.Len(t, jobsOf(t, sj), 1)
}

func TestTerminatingNamespaceIsReportedAndCleanupStillWorks(t *testing.T) {
	ctx := context.Background()
	startController(t)
	ns := newNamespace(t)
	sj := fixtures.MakeSequentialJob(ns, "late").Steps("a", "b").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	job := waitForJob(t, sj, 0)

	// Without a namespace controller (envtest), the namespace stays
	// Terminating, as it does in a cluster while its content is deleted.
	require.NoError(t, env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job))
	cond := waitForUnavailable(t, sj, "NamespaceTerminating")
	assert.Contains(t, cond.Message, "being deleted")
	assert.Len(t, jobsOf(t, sj), 1, "step 1 cannot start")
	assert.Equal(t, v1alpha1.PhaseSucceeded, getSJ(t, sj).Status.Steps[0].Phase, "step 0's result is recorded")

	// The namespace controller deletes the SequentialJob next: the finalizer
	// still cleans up, and the object goes away.
	require.NoError(t, env.Client.Delete(ctx, sj))
	require.Eventually(t, func() bool { return len(jobsOf(t, sj)) == 0 }, waitFor, tick)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
