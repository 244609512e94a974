package reconciler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
)

// flakyStatusClient fails the status writes it is told to, as an apiserver
// under load or a dropped connection would.
type flakyStatusClient struct {
	client.Client
	mu sync.Mutex
	// fail says whether the n-th status write (from 1) fails.
	fail   func(n int) bool
	writes int
	failed int
}

func (c *flakyStatusClient) Status() client.SubResourceWriter {
	return &flakyStatusWriter{SubResourceWriter: c.Client.Status(), c: c}
}

type flakyStatusWriter struct {
	client.SubResourceWriter
	c *flakyStatusClient
}

func (w *flakyStatusWriter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	w.c.mu.Lock()
	w.c.writes++
	fail := w.c.fail(w.c.writes)
	if fail {
		w.c.failed++
	}
	w.c.mu.Unlock()
	if fail {
		return apierrors.NewServiceUnavailable("injected: status write failed")
	}
	return w.SubResourceWriter.Apply(ctx, obj, opts...)
}

// TestFailingStatusWritesAnnounceEachTransitionOnce: every transition's
// status write fails three times before it succeeds. Each step still runs
// once, and each transition's event is recorded exactly once, after its
// status is written.
func TestFailingStatusWritesAnnounceEachTransitionOnce(t *testing.T) {
	ctx := context.Background()
	flaky := &flakyStatusClient{fail: func(n int) bool { return n%4 != 0 }}
	startController(t, func(r *reconciler.Reconciler) {
		flaky.Client = r.Client
		r.Client = flaky
	})
	sj := fixtures.MakeSequentialJob(newNamespace(t), "flaky").Steps("a", "b", "c").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	for i := range 3 {
		require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, i)))
	}
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)
	assert.Equal(t, int32(3), done.Status.State.Succeeded)
	assert.Len(t, jobsOf(t, sj), 3, "one Job per step")

	want := map[string]int{
		"StepStarted: step 0 (a) started: created Job flaky-0":         1,
		"StepSucceeded: step 0 (a) succeeded: Job flaky-0 is Complete": 1,
		"StepStarted: step 1 (b) started: created Job flaky-1":         1,
		"StepSucceeded: step 1 (b) succeeded: Job flaky-1 is Complete": 1,
		"StepStarted: step 2 (c) started: created Job flaky-2":         1,
		"StepSucceeded: step 2 (c) succeeded: Job flaky-2 is Complete": 1,
		"Completed: all 3 steps succeeded":                             1,
	}
	require.Eventually(t, func() bool {
		got := eventCounts(t, sj)
		for k := range got {
			if _, ok := want[k]; !ok {
				delete(got, k) // ReconciliationFailed and the like are not transitions
			}
		}
		return assert.ObjectsAreEqual(want, got)
	}, waitFor, tick, "each transition announced once: %v", eventCounts(t, sj))
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	assert.GreaterOrEqual(t, flaky.failed, 6, "the status writes really failed")
}

// TestJobRejectedAtCreationFailsTheRun: an admission policy on Jobs,
// installed after the run's dry-run passed, rejects step b's Job as
// invalid. The run fails with JobRejected and the apiserver's words, and
// the controller does not retry it.
func TestJobRejectedAtCreationFailsTheRun(t *testing.T) {
	ctx := context.Background()
	startController(t)
	ns := newNamespace(t)
	sj := fixtures.MakeSequentialJob(ns, "rejected").Steps("a", "b", "c").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	job0 := waitForJob(t, sj, 0)

	denyStepB(t, ns)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job0))
	failed := waitForPhase(t, sj, v1alpha1.PhaseFailed)

	fixtures.RequireRunFailedFast(t, failed.Status, v1alpha1.ReasonJobRejected,
		"step 1 (b) failed: the apiserver rejected its Job rejected-1", "step b is frozen")
	assert.Len(t, jobsOf(t, sj), 1, "no Job for b or c")

	countRejections := func() int {
		n := 0
		for k, c := range eventCounts(t, sj) {
			if len(k) > len(v1alpha1.ReasonJobRejected) && k[:len(v1alpha1.ReasonJobRejected)] == v1alpha1.ReasonJobRejected {
				n += c
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return countRejections() == 1 }, waitFor, tick)
	before := getSJ(t, sj).ResourceVersion
	// Nothing more happens: no retry writes status or records events.
	assert.Never(t, func() bool {
		return countRejections() != 1 || getSJ(t, sj).ResourceVersion != before ||
			eventReasons(t, sj)[corev1.EventTypeWarning] == nil
	}, 3*time.Second, 200*time.Millisecond)
	assert.NotContains(t, eventReasons(t, sj)[corev1.EventTypeWarning], v1alpha1.EventReconciliationFailed)
}

// denyStepB installs a ValidatingAdmissionPolicy that rejects, as invalid,
// any Job of step b in namespace ns, and waits until the apiserver enforces it.
func denyStepB(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	name := "deny-step-b-" + ns
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"batch"}, APIVersions: []string{"v1"}, Resources: []string{"jobs"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "object.metadata.?labels[?'" + v1alpha1.LabelStepName + "'].orValue('') != 'b'",
				Message:    "step b is frozen",
			}},
		},
	}
	require.NoError(t, env.Client.Create(ctx, policy))
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}
	require.NoError(t, env.Client.Create(ctx, binding))
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, binding)
		_ = env.Client.Delete(ctx, policy)
	})
	probe := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns, Labels: map[string]string{v1alpha1.LabelStepName: "b"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "b", Image: "busybox"}}}}},
	}
	require.Eventually(t, func() bool {
		return apierrors.IsInvalid(env.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll))
	}, waitFor, tick, "the policy is never enforced")
}

// TestJobDeletedWhileControllerIsDownKeepsItsResult: step a's Job completes
// and is deleted while no controller runs. The step-result finalizer holds
// it, so the new controller records a Succeeded, releases the Job, and
// the run goes on.
func TestJobDeletedWhileControllerIsDownKeepsItsResult(t *testing.T) {
	ctx := context.Background()
	stop := startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "ttl").Steps("a", "b").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	job0 := waitForJob(t, sj, 0)
	waitForPhase(t, sj, v1alpha1.PhaseRunning)
	assert.Contains(t, job0.Finalizers, v1alpha1.FinalizerStepResult)
	stop()

	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job0))
	require.NoError(t, env.Client.Delete(ctx, job0, client.PropagationPolicy(metav1.DeletePropagationBackground)))

	startController(t)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, 1)))
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)
	assert.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Steps[0].Phase)
	assert.Equal(t, v1alpha1.ReasonCompleted, done.Status.Steps[0].Reason)
	require.Eventually(t, func() bool {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(job0), &batchv1.Job{})
		return apierrors.IsNotFound(err)
	}, waitFor, tick, "the deleted Job is released once its result is recorded")
}

// TestEditMidRunRunsEachStepOnce: the two edits, on a real
// apiserver. Inserting x before every step while b runs makes x run next
// and b never twice; removing the pending step d means d never runs.
func TestEditMidRunRunsEachStepOnce(t *testing.T) {
	ctx := context.Background()
	startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "edited").Steps("a", "b", "c", "d").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, 0)))
	job1 := waitForJob(t, sj, 1)

	edit := getSJ(t, sj)
	edit.Spec.Containers = fixtures.MakeSequentialJob("", "").Steps("x", "a", "b", "c").Obj().Spec.Containers
	require.NoError(t, env.Client.Update(ctx, edit))
	require.Eventually(t, func() bool { return getSJ(t, sj).Status.ObservedGeneration == edit.Generation }, waitFor, tick)

	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job1))
	for i := 2; i < 4; i++ {
		require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, i)))
	}
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)

	var ran []string
	for _, job := range jobsOf(t, sj) {
		ran = append(ran, job.Labels[v1alpha1.LabelStepName])
	}
	assert.ElementsMatch(t, []string{"a", "b", "x", "c"}, ran, "each step of the final spec ran once; d never did")
	assert.Equal(t, []string{"a", "b", "x", "c"}, stepNamesOf(done))
	assert.Equal(t, "all 4 steps succeeded", meta.FindStatusCondition(done.Status.Conditions, v1alpha1.ConditionAvailable).Message)
}

func stepNamesOf(sj *v1alpha1.SequentialJob) []string {
	var out []string
	for _, s := range sj.Status.Steps {
		out = append(out, s.Name)
	}
	return out
}

// TestForeignJobWithOurNameIsNeverTakenOver: a Job someone else made holds
// step 0's Job name. The controller does not read the name before creating
// (that would cost every step); its apply fails on the foreign Job, and only
// then does it look, report JobNameConflict, and leave the Job untouched.
func TestForeignJobWithOurNameIsNeverTakenOver(t *testing.T) {
	ctx := context.Background()
	startController(t)
	ns := newNamespace(t)
	foreign := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "taken-0", Namespace: ns},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "other", Image: "busybox"}}}}},
	}
	require.NoError(t, env.Client.Create(ctx, foreign))
	sj := fixtures.MakeSequentialJob(ns, "taken").Steps("a").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))

	var got *v1alpha1.SequentialJob
	require.Eventually(t, func() bool {
		got = getSJ(t, sj)
		return meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)
	}, waitFor, tick)
	stalled := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled)
	assert.Equal(t, v1alpha1.ReasonJobNameConflict, stalled.Reason)
	assert.Contains(t, stalled.Message, "Job taken-0 exists and is not controlled by this SequentialJob")
	assert.Equal(t, v1alpha1.PhasePending, got.Status.Phase)

	after := &batchv1.Job{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(foreign), after))
	assert.Equal(t, foreign.ResourceVersion, after.ResourceVersion, "the foreign Job was written")
	assert.Empty(t, after.OwnerReferences)
}
