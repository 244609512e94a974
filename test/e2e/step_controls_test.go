package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// The step controls of docs/step-controls.md, on real Jobs, a real Job
// controller and kwok pods whose exit codes, durations and termination
// messages come from the sim.batch.example.com annotations.

// TestPodFailurePolicyFailsFastOnExitCode42: a step's podFailurePolicy
// fails its Job on exit code 42 at the first pod, though its backoffLimit
// would allow 6 retries.
func TestPodFailurePolicyFailsFastOnExitCode42(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "exit-42"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("prepare", "migrate").Duration("200ms").ExitCode("migrate", 42).
		Settings(v1alpha1.StepSettings{Name: "migrate", BackoffLimit: ptr.To[int32](6), PodFailurePolicy: &batchv1.PodFailurePolicy{
			Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}}).Obj())

	sj := waitForSJ(t, ns, name, "to fail", finished)
	jobs.requireSequential(t)
	fixtures.RequireRunFailed(t, sj.Status, v1alpha1.ReasonJobFailed, "PodFailurePolicy", "Job 1 failed: PodFailurePolicy")
	require.Contains(t, sj.Status.Steps[1].Message, "exited with code 42")
	pods, err := podsOf(context.Background(), ns, name+"-1")
	require.NoError(t, err)
	require.Len(t, pods, 1, "the policy failed the Job at its first pod: no retry")
}

// TestOnFailureContinue: step lint fails and may (onFailure: Continue);
// the run goes on to publish and succeeds, naming the failure it allowed.
func TestOnFailureContinue(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "lint-may-fail"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("build", "lint", "publish").Duration("200ms").
		ExitCode("lint", 1).Settings(v1alpha1.StepSettings{Name: "lint", BackoffLimit: ptr.To[int32](0), OnFailure: v1alpha1.OnFailureContinue}).Obj())

	sj := waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireOneAtATime(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, []string{"build", "lint", "publish"}, jobs.stepsRun(name))
	require.Equal(t, v1alpha1.PhaseFailed, sj.Status.Steps[1].Phase)
	require.Equal(t, v1alpha1.OnFailureContinue, sj.Status.Steps[1].OnFailure)
	available := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionAvailable)
	require.Equal(t, v1alpha1.ReasonCompletedWithFailures, available.Reason)
	require.Contains(t, available.Message, "1 failed and was allowed to (onFailure: Continue): lint")
	require.Equal(t, v1alpha1.ExecutionState{Succeeded: 2, Failed: 1}, sj.Status.State)
}

// TestSuspendMidStepThenResume: spec.suspend while step 0 runs suspends its
// Job (the Job controller deletes its pod), starts nothing, and says so;
// clearing it resumes the same Job, whose pod starts again, and the run
// goes on.
func TestSuspendMidStepThenResume(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "paused"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("long", "short").StepDuration("long", "8s").Duration("200ms").Obj())
	waitForRunningPod(t, ns, name+"-0")

	setSuspend(t, ns, name, true)
	sj := waitForSJ(t, ns, name, "to be Suspended", func(sj *v1alpha1.SequentialJob) bool {
		return sj.Status.Phase == v1alpha1.PhaseSuspended
	})
	require.True(t, apimeta.IsStatusConditionTrue(sj.Status.Conditions, v1alpha1.ConditionSuspended))
	require.Equal(t, v1alpha1.ReasonSuspended, sj.Status.Steps[0].Reason)
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.ReasonSuspended)
	waitFor(t, "the step's Job to be suspended and its pods gone", func(ctx context.Context) (bool, error) {
		job := &batchv1.Job{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-0"}, job); err != nil {
			return false, err
		}
		pods, err := podsOf(ctx, ns, name+"-0")
		return ptr.Deref(job.Spec.Suspend, false) && activePods(pods) == 0, err
	})
	row := strings.Fields(strings.Split(strings.TrimSpace(kubectl(t, "get", "sqj", name, "-n", ns)), "\n")[1])
	require.Equal(t, []string{name, "0/2", "Suspended", "long", "1"}, row[:5], "kubectl get shows the run suspended")
	// The step would have ended by now had it not been suspended.
	time.Sleep(9 * time.Second)
	require.Equal(t, []string{name + "-0"}, jobs.createdNames(), "nothing starts while suspended")
	require.Equal(t, v1alpha1.PhaseSuspended, getSJ(t, ns, name).Status.Phase)

	setSuspend(t, ns, name, false)
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventResumed)
	sj = waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireSequential(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, []string{"long", "short"}, jobs.stepsRun(name), "step 0 resumed in its own Job, not a new one")
	require.Nil(t, sj.Status.SuspendTime)
	require.False(t, apimeta.IsStatusConditionTrue(sj.Status.Conditions, v1alpha1.ConditionSuspended))
}

// TestRunDeadline: runDeadlineSeconds passes while step 1 runs; its Job is
// stopped (Failed, DeadlineExceeded, by the Job controller), the run fails
// with DeadlineExceeded naming the step, and step 2 never starts.
func TestRunDeadline(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "too-slow"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("quick", "slow", "never").Duration("200ms").
		StepDuration("slow", "1h").RunDeadline(4).Obj())

	sj := waitForSJ(t, ns, name, "to fail", finished)
	fixtures.RequireRunFailed(t, sj.Status, v1alpha1.ReasonDeadlineExceeded, v1alpha1.ReasonDeadlineExceeded,
		"the run stopped at step 1 (slow), which was running")
	require.Equal(t, v1alpha1.ReasonRunDeadlineExceeded, sj.Status.Steps[1].Reason)
	waitFor(t, "the stopped Job to fail", func(ctx context.Context) (bool, error) {
		job := &batchv1.Job{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-1"}, job)
		return err == nil && jobCondition(job, batchv1.JobFailed), err
	})
	jobs.requireSequential(t)
	require.Equal(t, []string{"quick", "slow"}, jobs.stepsRun(name))
	require.Equal(t, v1alpha1.PhasePending, getSJ(t, ns, name).Status.Steps[2].Phase)
}

// TestFinally: a finally step runs once after the steps end, both when
// they succeeded and when one failed; the failure keeps the seed's text.
func TestFinally(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		exitCode  int
		wantPhase v1alpha1.Phase
	}{
		"after-success": {0, v1alpha1.PhaseSucceeded},
		"after-failure": {1, v1alpha1.PhaseFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			jobs := recordJobs(t, ns)
			createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("work", "more").Finally("notify").Duration("200ms").
				BackoffLimit(0).ExitCode("work", tc.exitCode).Obj())

			sj := waitForSJ(t, ns, name, "to finish", finished)
			jobs.requireOneAtATime(t)
			require.Equal(t, tc.wantPhase, sj.Status.Phase, "status: %+v", sj.Status)
			require.Len(t, sj.Status.Finally, 1)
			require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Finally[0].Phase)
			require.Equal(t, name+"-f0", sj.Status.Finally[0].JobName)
			want := []string{"work", "more", "notify"}
			if tc.exitCode != 0 {
				want = []string{"work", "notify"}
				failed := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed)
				require.Equal(t, "Job 0 failed: BackoffLimitExceeded", failed.Message)
			}
			require.Equal(t, want, jobs.stepsRun(name), "the finally step ran once, last")
		})
	}
}

// TestRetryFromFailedStep: step 1 fails; the user fixes it and sets a new
// retryToken. Step 1 runs again as attempt 2 in a new Job, then step 2;
// step 0, which succeeded, does not run again. Re-applying the same token
// does nothing.
func TestRetryFromFailedStep(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "retried"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("fetch", "build", "ship").Duration("200ms").
		BackoffLimit(0).ExitCode("build", 1).Obj())
	sj := waitForSJ(t, ns, name, "to fail", finished)
	require.Equal(t, v1alpha1.PhaseFailed, sj.Status.Phase)

	editSJ(t, ns, name, func(sj *v1alpha1.SequentialJob) {
		sj.Spec.RetryToken = "fixed-build"
		delete(sj.Spec.Template.Annotations, "sim.batch.example.com/exit-code.build")
	})
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventRetry)

	sj = waitForSJ(t, ns, name, "to succeed", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseSucceeded })
	jobs.requireOneAtATime(t)
	require.Equal(t, []string{name + "-0", name + "-1", name + "-1-r2", name + "-2"}, jobs.createdNames())
	require.Equal(t, int32(2), sj.Status.Attempt)
	build := sj.Status.Steps[1]
	require.Equal(t, int32(2), build.Attempt)
	require.Equal(t, name+"-1-r2", build.JobName)
	require.Len(t, build.PreviousAttempts, 1)
	require.Equal(t, name+"-1", build.PreviousAttempts[0].JobName)
	require.Equal(t, v1alpha1.PhaseFailed, build.PreviousAttempts[0].Phase)

	row := strings.Fields(strings.Split(strings.TrimSpace(kubectl(t, "get", "sqj", name, "-n", ns)), "\n")[1])
	require.Equal(t, []string{name, "3/3", "Succeeded", "ship", "2"}, row[:5], "kubectl get shows the second attempt")
	describe := kubectl(t, "describe", "sqj", name, "-n", ns)
	for _, want := range []string{"Retry Token:  fixed-build", "Previous Attempts:", name + "-1-r2", "exited with code 1 (Error)", "attempt 2 of the run starts again"} {
		require.Contains(t, describe, want)
	}

	// The same token again changes nothing.
	editSJ(t, ns, name, func(sj *v1alpha1.SequentialJob) { sj.Spec.Template.Annotations["touched"] = "yes" })
	waitForSJ(t, ns, name, "to observe the edit", func(sj *v1alpha1.SequentialJob) bool {
		return sj.Status.ObservedGeneration == sj.Generation
	})
	require.Len(t, jobs.createdNames(), 4)
}

// TestResultPassedToLaterStep: step 0's container writes its result to its
// termination message; status records it, and step 2's pod gets it as
// SQJ_RESULT_PRODUCE through the downward API from its own annotation.
// (kwok runs no container, so the pod's spec and annotation, which the
// kubelet resolves, are what is checked.)
func TestResultPassedToLaterStep(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "results"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("produce", "middle", "consume").Duration("200ms").
		Result("produce", "image=registry.example.com/app@sha256:4f1c").Obj())

	sj := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase)
	require.Equal(t, "image=registry.example.com/app@sha256:4f1c", sj.Status.Steps[0].Result)

	pods, err := podsOf(context.Background(), ns, name+"-2")
	require.NoError(t, err)
	require.NotEmpty(t, pods)
	pod := pods[0]
	key := v1alpha1.ResultAnnotationPrefix + "produce"
	require.Equal(t, "image=registry.example.com/app@sha256:4f1c", pod.Annotations[key])
	var env *corev1.EnvVar
	for i := range pod.Spec.Containers[0].Env {
		if pod.Spec.Containers[0].Env[i].Name == render.ResultEnvName("produce") {
			env = &pod.Spec.Containers[0].Env[i]
		}
	}
	require.NotNil(t, env, "SQJ_RESULT_PRODUCE in env: %+v", pod.Spec.Containers[0].Env)
	require.Equal(t, "SQJ_RESULT_PRODUCE", env.Name)
	require.Equal(t, "metadata.annotations['"+key+"']", env.ValueFrom.FieldRef.FieldPath)
}

// TestFailureDetailOfExit3: a step whose container exits 3 says so in its
// message; the Failed condition keeps the seed's exact text.
func TestFailureDetailOfExit3(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "exit-3"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("check").Duration("200ms").BackoffLimit(0).ExitCode("check", 3).Obj())

	sj := waitForSJ(t, ns, name, "to fail", finished)
	failed := apimeta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed)
	require.Equal(t, "Job 0 failed: BackoffLimitExceeded", failed.Message)
	require.Contains(t, sj.Status.Steps[0].Message, "container check of pod "+name+"-0-")
	require.Contains(t, sj.Status.Steps[0].Message, "exited with code 3 (Error)")
	require.Equal(t, "simulated exit code 3 (sim.batch.example.com/exit-code)", sj.Status.Steps[0].Result)
}

// TestTTLSecondsAfterFinished: a finished run is deleted, with its Jobs,
// once ttlSecondsAfterFinished has passed.
func TestTTLSecondsAfterFinished(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "short-lived"
	w := fixtures.MakeSequentialJob(ns, name).Steps("only").Duration("200ms")
	w.Spec.TTLSecondsAfterFinished = ptr.To[int32](2)
	createSJ(t, w.Obj())
	waitForSJ(t, ns, name, "to finish", finished)
	waitFor(t, "the SequentialJob and its Jobs to be deleted", func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.SequentialJob{})
		if !isNotFound(err) {
			return false, client.IgnoreNotFound(err)
		}
		list := &batchv1.JobList{}
		err = k8s.List(ctx, list, client.InNamespace(ns))
		return len(list.Items) == 0, err
	})
}

func setSuspend(t *testing.T, ns, name string, on bool) {
	t.Helper()
	editSJ(t, ns, name, func(sj *v1alpha1.SequentialJob) { sj.Spec.Suspend = ptr.To(on) })
}

// editSJ changes the spec as a user would, again on a conflict with the
// controller's own writes.
func editSJ(t *testing.T, ns, name string, edit func(*v1alpha1.SequentialJob)) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sj := getSJ(t, ns, name)
		edit(sj)
		return k8s.Update(context.Background(), sj)
	}))
}

func activePods(pods []corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			n++
		}
	}
	return n
}
