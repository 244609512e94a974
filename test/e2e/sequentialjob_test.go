package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

const finalizer = "batch.example.com/sequentialjob-cleanup"

// conditionStatuses maps each of the seed's conditions to its status.
func conditionStatuses(sj *v1alpha1.SequentialJob) map[string]metav1.ConditionStatus {
	out := map[string]metav1.ConditionStatus{}
	for _, t := range []string{v1alpha1.ConditionAvailable, v1alpha1.ConditionProgressing, v1alpha1.ConditionFailed} {
		if c := apimeta.FindStatusCondition(sj.Status.Conditions, t); c != nil {
			out[t] = c.Status
		}
	}
	return out
}

// TestSeedExample applies the seed's example as a user would and follows it
// to success through real Jobs, pods played by kwok, the Job controller and
// the garbage collector.
func TestSeedExample(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)

	out := kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(repoRoot(), "examples", "seed-example.yaml"))
	require.Contains(t, out, "sequentialjob.batch.example.com/example-job-sequence serverside-applied")

	const name = "example-job-sequence"
	sj := waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireSequential(t)

	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, sj.Generation, sj.Status.ObservedGeneration)
	require.Equal(t, map[string]metav1.ConditionStatus{
		v1alpha1.ConditionAvailable:   metav1.ConditionTrue,
		v1alpha1.ConditionProgressing: metav1.ConditionFalse,
		v1alpha1.ConditionFailed:      metav1.ConditionFalse,
	}, conditionStatuses(sj))
	require.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 1, Failed: 0}, sj.Status.State)
	wantProgress := v1alpha1.JobProgress{CurrentIndex: 0, CurrentStep: "step1", Summary: "1/1", CompletedIndices: []int32{0}}
	require.Empty(t, cmp.Diff(wantProgress, sj.Status.Progress), "progress (-want +got)")
	require.NotNil(t, sj.Status.StartTime)
	require.NotNil(t, sj.Status.CompletionTime)
	require.False(t, sj.Status.CompletionTime.Before(sj.Status.StartTime))

	require.Len(t, sj.Status.Steps, 1)
	step := sj.Status.Steps[0]
	require.Equal(t, "step1", step.Name)
	require.Equal(t, render.JobName(name, 0), step.JobName)
	require.Equal(t, v1alpha1.PhaseSucceeded, step.Phase)
	require.NotNil(t, step.StartTime)
	require.NotNil(t, step.CompletionTime)

	require.Equal(t, []string{name + "-0"}, jobs.createdNames())
	job := &batchv1.Job{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-0"}, job))
	require.True(t, jobCondition(job, batchv1.JobComplete))
	require.Equal(t, map[string]string{
		v1alpha1.LabelSequentialJob: name,
		v1alpha1.LabelStepIndex:     "0",
		v1alpha1.LabelStepName:      "step1",
	}, pick(job.Labels, v1alpha1.LabelSequentialJob, v1alpha1.LabelStepIndex, v1alpha1.LabelStepName))
	owner := metav1.GetControllerOf(job)
	require.NotNil(t, owner, "the Job has a controller reference")
	require.Equal(t, sj.UID, owner.UID)
	require.Equal(t, []string{"sh", "-c"}, job.Spec.Template.Spec.Containers[0].Command)
	require.Equal(t, []string{"echo 'Processing step 1'; sleep 10"}, job.Spec.Template.Spec.Containers[0].Args)

	for _, reason := range []string{"StepStarted", "StepSucceeded", "Completed"} {
		waitForEvent(t, ns, name, corev1.EventTypeNormal, reason)
	}

	// What `kubectl get sqj` shows a user.
	table := kubectl(t, "get", "sqj", "-n", ns)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 2, table)
	require.Equal(t, []string{"NAME", "PROGRESS", "PHASE", "CURRENT", "ATTEMPT", "AGE"}, strings.Fields(lines[0]), table)
	require.Equal(t, []string{name, "1/1", "Succeeded", "step1", "1"}, strings.Fields(lines[1])[:5], table)
}

// TestFailedStepGivesSeedStatus: step 1 of 3 exits 1 with backoffLimit 0.
func TestFailedStepGivesSeedStatus(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "fails-at-1"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("prepare", "migrate", "report").
		BackoffLimit(0).ExitCode("migrate", 1).Obj())

	sj := waitForSJ(t, ns, name, "the Failed condition", func(sj *v1alpha1.SequentialJob) bool {
		return apimeta.IsStatusConditionTrue(sj.Status.Conditions, v1alpha1.ConditionFailed)
	})
	jobs.requireSequential(t)

	failed := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed)
	require.Equal(t, "JobFailed", failed.Reason)
	require.Equal(t, "Job 1 failed: BackoffLimitExceeded", failed.Message)
	require.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 1, Failed: 1}, sj.Status.State)
	require.Equal(t, int32(1), sj.Status.Progress.CurrentIndex)
	require.Equal(t, []int32{0}, sj.Status.Progress.CompletedIndices)
	require.Equal(t, ptr.To[int32](1), sj.Status.Progress.FailedIndex)
	require.Equal(t, "BackoffLimitExceeded", sj.Status.Progress.FailureReason)
	require.Equal(t, v1alpha1.PhaseFailed, sj.Status.Phase)

	event := waitForEvent(t, ns, name, corev1.EventTypeWarning, "JobFailed")
	require.Contains(t, event.Message, "BackoffLimitExceeded")

	// The failing pod really exited 1, the way kwok played it.
	pods, err := podsOf(context.Background(), ns, name+"-1")
	require.NoError(t, err)
	require.Len(t, pods, 1)
	require.Equal(t, corev1.PodFailed, pods[0].Status.Phase)
	require.Equal(t, int32(1), pods[0].Status.ContainerStatuses[0].State.Terminated.ExitCode)

	// Step 2 never started: the status says so, and no Job was ever created
	// for it (the recorder saw every Job of the namespace).
	sj = getSJ(t, ns, name)
	require.Equal(t, v1alpha1.PhasePending, stepPhase(sj, 2))
	require.Equal(t, []string{name + "-0", name + "-1"}, jobs.createdNames())
	err = k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-2"}, &batchv1.Job{})
	require.True(t, isNotFound(err), "Job %s-2 must not exist: %v", name, err)
}

// TestDeleteMidRun deletes a SequentialJob while a step runs: the finalizer
// holds it until its Jobs are gone, their pods go too, and events say so.
func TestDeleteMidRun(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "deleted"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("first", "second").Duration("1h").Obj())

	sj := waitForSJ(t, ns, name, "step 0 to run", func(sj *v1alpha1.SequentialJob) bool {
		return stepPhase(sj, 0) == v1alpha1.PhaseRunning
	})
	require.Contains(t, sj.Finalizers, finalizer)
	waitForRunningPod(t, ns, name+"-0")

	require.NoError(t, k8s.Delete(context.Background(), sj))
	waitFor(t, "the SequentialJob to be deleted", func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.SequentialJob{})
		return isNotFound(err), client.IgnoreNotFound(err)
	})

	// The finalizer is removed only once the Jobs are gone.
	list := &batchv1.JobList{}
	require.NoError(t, k8s.List(context.Background(), list, client.InNamespace(ns)))
	require.Empty(t, list.Items, "Jobs left behind")

	// The garbage collector deletes the pods, kwok plays their end, and the
	// Job controller drops its tracking finalizer.
	waitFor(t, "every pod to be gone", func(ctx context.Context) (bool, error) {
		pods := &corev1.PodList{}
		if err := k8s.List(ctx, pods, client.InNamespace(ns)); err != nil {
			return false, err
		}
		return len(pods.Items) == 0, nil
	})
	waitForEvent(t, ns, name, corev1.EventTypeNormal, "Cleanup")
}

// TestSpecChangeMidRun changes the next step's command while step 0 runs.
func TestSpecChangeMidRun(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "edited"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).
		Step("first", "busybox", "sh", "-c", "echo v1 first").
		Step("second", "busybox", "sh", "-c", "echo v1 second").
		// Long enough that the edit surely lands while step 0 runs; the
		// test waits for it to finish, it does not time it.
		StepDuration("first", "15s").Obj())

	waitForSJ(t, ns, name, "step 0 to run", func(sj *v1alpha1.SequentialJob) bool {
		return stepPhase(sj, 0) == v1alpha1.PhaseRunning
	})
	waitForRunningPod(t, ns, name+"-0")
	first := jobs.job(name + "-0")
	require.NotNil(t, first)

	patch := []byte(`[{"op":"replace","path":"/spec/containers/1/command","value":["sh","-c","echo v2 second"]}]`)
	sj := getSJ(t, ns, name)
	require.NoError(t, k8s.Patch(context.Background(), sj, client.RawPatch(types.JSONPatchType, patch)))
	require.Equal(t, int64(2), sj.Generation)

	event := waitForEvent(t, ns, name, corev1.EventTypeWarning, "SpecChanged")
	require.NotEmpty(t, event.Message)
	waitForSJ(t, ns, name, "observedGeneration 2", func(sj *v1alpha1.SequentialJob) bool {
		return sj.Status.ObservedGeneration == 2
	})

	sj = waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireSequential(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase)

	// The running step finished untouched: the same Job, its template as
	// rendered from generation 1.
	done := jobs.job(name + "-0")
	require.Equal(t, first.UID, done.UID, "the running Job was replaced")
	require.Equal(t, []string{"sh", "-c", "echo v1 first"}, done.Spec.Template.Spec.Containers[0].Command)
	require.True(t, jobCondition(done, batchv1.JobComplete))
	require.Equal(t, "1", done.Annotations[v1alpha1.AnnotationSpecGeneration])

	// The next step's Job carries the new command.
	next := &batchv1.Job{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-1"}, next))
	require.Equal(t, []string{"sh", "-c", "echo v2 second"}, next.Spec.Template.Spec.Containers[0].Command)
	require.Equal(t, "2", next.Annotations[v1alpha1.AnnotationSpecGeneration])
	require.Equal(t, []string{name + "-0", name + "-1"}, jobs.createdNames())
}

// TestControllerKilledMidRun kills the controller process (SIGKILL) while a
// step runs and starts a new one: the run continues, and no Job is created
// twice or skipped. Not parallel: the other tests share the controller.
func TestControllerKilledMidRun(t *testing.T) {
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "survives-restart"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a", "b", "c", "d").Duration("3s").Obj())

	waitForSJ(t, ns, name, "step 1 to run", func(sj *v1alpha1.SequentialJob) bool {
		return stepPhase(sj, 1) == v1alpha1.PhaseRunning
	})
	require.NoError(t, killController())

	// While no controller runs, step 1's Job finishes; nothing starts step 2.
	waitFor(t, "Job "+name+"-1 to complete", func(ctx context.Context) (bool, error) {
		job := jobs.job(name + "-1")
		return job != nil && jobCondition(job, batchv1.JobComplete), nil
	})
	require.NoError(t, startController(context.Background()))

	sj := waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireSequential(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 4, Failed: 0}, sj.Status.State)
	require.Equal(t, []int32{0, 1, 2, 3}, sj.Status.Progress.CompletedIndices)
	want := []string{name + "-0", name + "-1", name + "-2", name + "-3"}
	require.Equal(t, want, jobs.createdNames(), "each step's Job created exactly once, in order")
	for i, step := range sj.Status.Steps {
		require.Equal(t, v1alpha1.PhaseSucceeded, step.Phase, "step %d", i)
		require.Equal(t, want[i], step.JobName)
	}
}

// TestExamplesApply applies every example with server-side apply, as the
// README tells users to, and checks that the apiserver accepts it.
func TestExamplesApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join(repoRoot(), "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if !strings.Contains(string(data), "kind: Sequential") { // SequentialJob, SequentialCronJob
			continue
		}
		out := kubectl(t, "apply", "--server-side", "--dry-run=server", "-n", ns, "-f", f)
		require.Contains(t, out, "serverside-applied", filepath.Base(f))
	}
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}
