package e2e

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// jobsCount is the quota resource that counts a namespace's Jobs.
const jobsCount corev1.ResourceName = "count/jobs.batch"

// TestResourceQuotaHoldsRunUntilRaised is what a user meets in a namespace
// whose ResourceQuota allows no Job: the local cluster enforces it as a real
// one does (the resourcequota controller counts usage, the apiserver's
// ResourceQuota admission plugin refuses the Job), so the run starts no
// step and says why (a condition and a Warning event that name the quota),
// and once the quota is raised it runs every step, each exactly once,
// without anyone touching the SequentialJob.
func TestResourceQuotaHoldsRunUntilRaised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)

	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-jobs"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{jobsCount: resource.MustParse("0")}},
	}
	require.NoError(t, k8s.Create(ctx, quota))
	// Only kube-controller-manager's resourcequota controller writes a
	// quota's usage: seeing it proves the controller runs.
	waitFor(t, "the resourcequota controller to count the namespace's Jobs", func(ctx context.Context) (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(quota), quota); err != nil {
			return false, err
		}
		used, ok := quota.Status.Used[jobsCount]
		return ok && used.IsZero(), nil
	})

	const name = "over-quota"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a", "b", "c").Duration("1s").Obj())

	const wantMessage = `a ResourceQuota forbids creating the step's Job: applying Job over-quota-0: jobs.batch "over-quota-0" is forbidden: ` +
		`exceeded quota: no-jobs, requested: count/jobs.batch=1, used: count/jobs.batch=0, limited: count/jobs.batch=0`
	sj := waitForSJ(t, ns, name, "to report the quota", func(sj *v1alpha1.SequentialJob) bool {
		return apimeta.IsStatusConditionTrue(sj.Status.Conditions, v1alpha1.ConditionResourcesUnavailable)
	})
	held := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionResourcesUnavailable)
	require.Equal(t, v1alpha1.ReasonQuotaExceeded, held.Reason, "status: %+v", sj.Status)
	require.Equal(t, wantMessage, held.Message)
	require.Equal(t, v1alpha1.PhasePending, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, map[string]metav1.ConditionStatus{
		v1alpha1.ConditionFailed:               metav1.ConditionFalse,
		v1alpha1.ConditionProgressing:          metav1.ConditionFalse,
		v1alpha1.ConditionAvailable:            metav1.ConditionFalse,
		v1alpha1.ConditionReconciling:          metav1.ConditionTrue,
		v1alpha1.ConditionResourcesUnavailable: metav1.ConditionTrue,
	}, everyConditionStatus(sj), "conditions: %+v", sj.Status.Conditions)
	for i, step := range sj.Status.Steps {
		require.Equal(t, v1alpha1.PhasePending, step.Phase, "step %d: %+v", i, step)
	}
	warning := waitForEvent(t, ns, name, corev1.EventTypeWarning, v1alpha1.ReasonQuotaExceeded)
	require.Equal(t, wantMessage, warning.Message)
	require.Empty(t, jobs.createdNames(), "no step's Job gets past the quota")

	// Room for every step: a finished step's Job stays, and counts.
	quota.Spec.Hard[jobsCount] = resource.MustParse("3")
	require.NoError(t, k8s.Update(ctx, quota))

	sj = waitForSJ(t, ns, name, "to finish once the quota is raised", finished)
	jobs.requireSequential(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Nil(t, apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionResourcesUnavailable),
		"the condition is gone once the quota allows the Jobs")
	require.Equal(t, "Completed", apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionAvailable).Reason)
	if diff := cmp.Diff([]string{"a", "b", "c"}, jobs.stepsRun(name)); diff != "" {
		t.Fatalf("each step runs once, in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{name + "-0", name + "-1", name + "-2"}, jobs.createdNames()); diff != "" {
		t.Fatalf("one Job per step (-want +got):\n%s", diff)
	}
	events, err := sjEvents(ctx, ns, name)
	require.NoError(t, err)
	started := map[string]int{}
	for _, e := range events {
		if e.Reason == v1alpha1.EventStepStarted {
			started[e.Message]++
		}
	}
	require.Len(t, started, 3, "a StepStarted event per step: %v", started)
	for msg, n := range started {
		require.Equal(t, 1, n, "event %q posted once", msg)
	}
}

// everyConditionStatus maps each condition type sj carries to its status.
func everyConditionStatus(sj *v1alpha1.SequentialJob) map[string]metav1.ConditionStatus {
	out := map[string]metav1.ConditionStatus{}
	for _, c := range sj.Status.Conditions {
		out[c.Type] = c.Status
	}
	return out
}
