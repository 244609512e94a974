package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// A step's when (docs/when.md), on real Jobs: the controller evaluates it
// at the step's turn, from what the steps before it recorded.

// TestWhenSkipsStepFromEarlierResult: test writes the result "changed=0";
// deploy runs only when something changed, so it is skipped (no Job, a
// StepSkipped event), and report, which reads deploy's phase, runs.
func TestWhenSkipsStepFromEarlierResult(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "skip-deploy"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("test", "deploy", "report").Duration("200ms").
		Result("test", "changed=0").
		Settings(v1alpha1.StepSettings{Name: "deploy", When: "steps.test.result != 'changed=0'"}).
		Settings(v1alpha1.StepSettings{Name: "report", When: "steps.deploy.phase == 'Skipped'"}).Obj())

	sj := waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireOneAtATime(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "status: %+v", sj.Status)
	require.Equal(t, []string{"test", "report"}, jobs.stepsRun(name), "deploy never got a Job")
	deploy := sj.Status.Steps[1]
	require.Equal(t, v1alpha1.PhaseSkipped, deploy.Phase)
	require.Equal(t, v1alpha1.ReasonConditionNotMet, deploy.Reason)
	require.Equal(t, `when "steps.test.result != 'changed=0'" was false`, deploy.Message)
	require.Empty(t, deploy.Result)
	require.Equal(t, v1alpha1.ExecutionState{Succeeded: 2, Skipped: 1}, sj.Status.State)
	require.Equal(t, []int32{0, 2}, sj.Status.Progress.CompletedIndices, "completedIndices: the steps that succeeded")
	event := waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventStepSkipped)
	require.Equal(t, `step 1 (deploy) was skipped: when "steps.test.result != 'changed=0'" was false`, event.Message)
}

// TestFinallyWhenRunFailed: a finally step with when: run.failed runs
// after a failed step and is skipped after a run that succeeded; its
// sibling with when: !run.failed does the opposite.
func TestFinallyWhenRunFailed(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		exitCode  int
		wantPhase v1alpha1.Phase
		wantRun   []string
	}{
		"when-after-failure": {1, v1alpha1.PhaseFailed, []string{"work", "page-oncall"}},
		"when-after-success": {0, v1alpha1.PhaseSucceeded, []string{"work", "more", "celebrate"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			jobs := recordJobs(t, ns)
			createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("work", "more").Finally("page-oncall").Finally("celebrate").
				Duration("200ms").BackoffLimit(0).ExitCode("work", tc.exitCode).
				Settings(v1alpha1.StepSettings{Name: "page-oncall", When: "run.failed"}).
				Settings(v1alpha1.StepSettings{Name: "celebrate", When: "!run.failed", BackoffLimit: ptr.To[int32](0)}).Obj())

			sj := waitForSJ(t, ns, name, "to finish", finished)
			jobs.requireOneAtATime(t)
			require.Equal(t, tc.wantPhase, sj.Status.Phase, "status: %+v", sj.Status)
			require.Equal(t, tc.wantRun, jobs.stepsRun(name))
			skipped := sj.Status.Finally[1]
			if tc.exitCode == 0 {
				skipped = sj.Status.Finally[0]
			}
			require.Equal(t, v1alpha1.PhaseSkipped, skipped.Phase, "status: %+v", sj.Status.Finally)
			require.Equal(t, v1alpha1.ReasonConditionNotMet, skipped.Reason)
		})
	}
}
