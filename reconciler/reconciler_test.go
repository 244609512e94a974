package reconciler_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

// loadSeedExample reads examples/seed-example.yaml into namespace ns.
func loadSeedExample(t *testing.T, ns string) *v1alpha1.SequentialJob {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Root(), "examples", "seed-example.yaml"))
	require.NoError(t, err)
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, yaml.UnmarshalStrict(data, sj))
	sj.Namespace = ns
	return sj
}

func TestSeedExampleRunsToCompletion(t *testing.T) {
	ctx := context.Background()
	startController(t)
	sj := loadSeedExample(t, newNamespace(t))
	require.NoError(t, env.Client.Create(ctx, sj))

	job := waitForJob(t, sj, 0)
	assert.Equal(t, "step1", job.Spec.Template.Spec.Containers[0].Name)
	assert.Equal(t, corev1.RestartPolicyNever, job.Spec.Template.Spec.RestartPolicy, "restartPolicy defaults to Never")
	running := waitForPhase(t, sj, v1alpha1.PhaseRunning)
	assert.Equal(t, "0/1", running.Status.Progress.Summary)
	assert.Contains(t, running.Finalizers, reconciler.Finalizer)

	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job))
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)
	assert.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 1, Failed: 0}, done.Status.State)
	assert.Equal(t, []int32{0}, done.Status.Progress.CompletedIndices)
	assert.Equal(t, "1/1", done.Status.Progress.Summary)
	assert.True(t, meta.IsStatusConditionTrue(done.Status.Conditions, v1alpha1.ConditionAvailable))
	assert.True(t, meta.IsStatusConditionFalse(done.Status.Conditions, v1alpha1.ConditionProgressing))
	assert.True(t, meta.IsStatusConditionFalse(done.Status.Conditions, v1alpha1.ConditionFailed))
	assert.Equal(t, done.Generation, done.Status.ObservedGeneration)
	assert.NotNil(t, done.Status.CompletionTime)
	assert.Len(t, jobsOf(t, sj), 1)
}

func TestThreeStepsRunOneAfterAnother(t *testing.T) {
	ctx := context.Background()
	startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "pipeline").Steps("build", "test", "deploy").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))

	for i, name := range []string{"build", "test", "deploy"} {
		job := waitForJob(t, sj, i)
		assert.Equal(t, name, job.Spec.Template.Spec.Containers[0].Name)
		assert.Len(t, jobsOf(t, sj), i+1, "step %d's Job exists before step %d completed", i+1, i)
		require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job))
	}
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)
	assert.Equal(t, []int32{0, 1, 2}, done.Status.Progress.CompletedIndices)
	for _, step := range done.Status.Steps {
		assert.Equal(t, v1alpha1.PhaseSucceeded, step.Phase, step.Name)
	}
	require.Eventually(t, func() bool {
		reasons := eventReasons(t, sj)[corev1.EventTypeNormal]
		return assert.ObjectsAreEqual([]string{"StepStarted", "StepSucceeded", "StepStarted", "StepSucceeded", "StepStarted", "StepSucceeded", "Completed"}, onlyRunEvents(reasons))
	}, waitFor, tick, "events tell the story of the run")
}

func TestStepFailureGivesTheSeedStatus(t *testing.T) {
	ctx := context.Background()
	startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "failing").Steps("prepare", "migrate", "report").BackoffLimit(0).Obj()
	require.NoError(t, env.Client.Create(ctx, sj))

	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, 0)))
	job1 := waitForJob(t, sj, 1)
	assert.Equal(t, ptr.To[int32](0), job1.Spec.BackoffLimit)
	require.NoError(t, fixtures.FailJob(ctx, env.Client, job1, "BackoffLimitExceeded"))

	failed := waitForPhase(t, sj, v1alpha1.PhaseFailed)
	cond := meta.FindStatusCondition(failed.Status.Conditions, v1alpha1.ConditionFailed)
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionTrue, cond.Status)
	assert.Equal(t, "JobFailed", cond.Reason)
	assert.Equal(t, "Job 1 failed: BackoffLimitExceeded", cond.Message)
	assert.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 1, Failed: 1}, failed.Status.State)
	assert.Equal(t, v1alpha1.JobProgress{
		CurrentIndex: 1, CurrentStep: "migrate", Summary: "1/3",
		CompletedIndices: []int32{0}, FailedIndex: ptr.To[int32](1), FailureReason: "BackoffLimitExceeded",
	}, failed.Status.Progress)

	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual([]string{"JobFailed"}, eventReasons(t, sj)[corev1.EventTypeWarning])
	}, waitFor, tick, "a JobFailed Warning event")
	assert.Len(t, jobsOf(t, sj), 2, "step 2 never starts")
}

func TestDeletionRunsTheFinalizerAndDeletesTheJobs(t *testing.T) {
	ctx := context.Background()
	startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "doomed").Steps("a", "b").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	waitForJob(t, sj, 0)
	waitForPhase(t, sj, v1alpha1.PhaseRunning)

	require.NoError(t, env.Client.Delete(ctx, sj))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(sj), &v1alpha1.SequentialJob{}))
	}, waitFor, tick, "the SequentialJob is deleted once its Jobs are gone")
	assert.Empty(t, jobsOf(t, sj), "no Job is left behind")
	assert.Contains(t, eventReasons(t, sj)[corev1.EventTypeNormal], reconciler.EventCleanup)
}

func TestReconcileWithNothingToChangeWritesNothing(t *testing.T) {
	ctx := context.Background()
	var r *reconciler.Reconciler
	startController(t, func(built *reconciler.Reconciler) { r = built })
	sj := fixtures.MakeSequentialJob(newNamespace(t), "steady").Steps("a", "b").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	waitForJob(t, sj, 0)
	waitForPhase(t, sj, v1alpha1.PhaseRunning)

	before := getSJ(t, sj)
	jobsBefore := jobsOf(t, sj)
	// The controller's own reconciler, as the manager built it, called
	// again and again with nothing new.
	for range 3 {
		_, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(sj)})
		require.NoError(t, err)
	}
	after := getSJ(t, sj)
	assert.Equal(t, before.ResourceVersion, after.ResourceVersion, "the SequentialJob was written")
	jobsAfter := jobsOf(t, sj)
	require.Len(t, jobsAfter, len(jobsBefore))
	for i := range jobsAfter {
		assert.Equal(t, jobsBefore[i].ResourceVersion, jobsAfter[i].ResourceVersion, "Job %s was written", jobsAfter[i].Name)
	}
}

func TestRestartMidRunCreatesNoDuplicateJob(t *testing.T) {
	ctx := context.Background()
	stop := startController(t)
	sj := fixtures.MakeSequentialJob(newNamespace(t), "restarted").Steps("a", "b", "c").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, 0)))
	job1 := waitForJob(t, sj, 1)
	stop()

	// Step 1 finishes while no controller runs; a new one takes over.
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job1))
	startController(t)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, sj, 2)))
	done := waitForPhase(t, sj, v1alpha1.PhaseSucceeded)

	jobs := jobsOf(t, sj)
	assert.Len(t, jobs, 3, "one Job per step, none duplicated")
	uids := map[string]bool{}
	for _, j := range jobs {
		uids[string(j.UID)] = true
	}
	assert.Len(t, uids, 3)
	assert.Equal(t, int32(3), done.Status.State.Succeeded)
}

// onlyRunEvents drops events that are not about steps or the run.
func onlyRunEvents(reasons []string) []string {
	var out []string
	for _, r := range reasons {
		switch r {
		case "StepStarted", "StepSucceeded", "Completed":
			out = append(out, r)
		}
	}
	return out
}
