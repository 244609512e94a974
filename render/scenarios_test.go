package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

var writeScenarios = flag.Bool("write-scenarios", false, "rewrite the inputs of the simulated golden cases (see scenarios)")

// t0 is when every simulated run is created; the golden cases render at
// goldenNow, a little later.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// scenarios build the inputs of the step-control golden cases by running
// render as the controller would, with the test as the cluster: their
// status is what the controller wrote on the way, not written by hand.
// TestScenarioInputsAreCurrent keeps the checked-in inputs equal to them.
var scenarios = map[string]func() *fixtures.Sim{
	"step-settings-override-job-spec": func() *fixtures.Sim {
		w := pipeline().BackoffLimit(3).Settings(v1alpha1.StepSettings{Name: "test", BackoffLimit: ptr.To[int32](0),
			ActiveDeadlineSeconds: ptr.To[int64](30), PodFailurePolicy: failJobOnExitCode(42)})
		w.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}}}
		s := fixtures.NewSim(w.Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", "")
	},
	"on-failure-continue-goes-on": func() *fixtures.Sim {
		return continueScenario()
	},
	"on-failure-continue-run-succeeds": func() *fixtures.Sim {
		s := continueScenario()
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-2", "")
	},
	"suspend-suspends-running-step": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Edit(suspend(true))
	},
	"suspend-holds-next-step": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", "").Edit(suspend(true))
	},
	"resume-restarts-suspended-step": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Edit(suspend(true)).Render()
		return s.Advance(2 * time.Minute).Edit(suspend(false))
	},
	"run-deadline-stops-running-step": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().RunDeadline(180).Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Complete("pipeline-0", "").Render()
		return s
	},
	"run-deadline-not-passed-requeues": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().RunDeadline(600).Obj(), t0)
		s.Render()
		return s.Advance(time.Minute)
	},
	"run-deadline-excludes-suspended-time": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().RunDeadline(240).Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Edit(suspend(true)).Render()
		s.Advance(2 * time.Minute).Edit(suspend(false)).Render()
		return s
	},
	"finally-runs-after-failure": func() *fixtures.Sim {
		return finallyAfterFailure()
	},
	"finally-after-failure-keeps-seed-failure": func() *fixtures.Sim {
		s := finallyAfterFailure()
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-f0", "")
	},
	"finally-runs-after-success": func() *fixtures.Sim {
		return finallyAfterSuccess()
	},
	"finally-failure-fails-run": func() *fixtures.Sim {
		s := finallyAfterSuccess()
		s.Render()
		return s.Advance(time.Minute).Fail("pipeline-f0", "BackoffLimitExceeded", 1, "")
	},
	"retry-reruns-failed-step": func() *fixtures.Sim {
		s := failedRun()
		return s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = "2026-01-02" })
	},
	"retry-token-unchanged-run-stays-failed": func() *fixtures.Sim {
		w := pipeline()
		w.Spec.RetryToken = "first"
		s := fixtures.NewSim(w.Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "").Render()
		return s.Advance(time.Minute)
	},
	"retry-on-succeeded-run-is-ignored": func() *fixtures.Sim {
		s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Complete("pipeline-0", "").Render()
		return s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = "again" })
	},
	"result-recorded-and-passed-on": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", "sha256:4f1c0de")
	},
	"long-result-truncated": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", strings.Repeat("0123456789", 200))
	},
	"failure-detail-from-pod-exit-code": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 3, "")
	},
	"failure-detail-oom-killed": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 137, "")
	},
	"queued-step-created-suspended": func() *fixtures.Sim {
		w := pipeline().Queue("team-a")
		w.Labels[v1alpha1.LabelPriorityClass] = "batch-low"
		return fixtures.NewSim(w.Obj(), t0)
	},
	"queued-step-waits": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Queue("team-a").Obj(), t0)
		s.Render()
		return s.Advance(time.Minute)
	},
	"queued-step-admitted-runs": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Queue("team-a").Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Admit("pipeline-0")
	},
	"queue-wait-not-counted-in-deadline": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Queue("team-a").RunDeadline(120).Obj(), t0)
		s.Render()
		s.Advance(3 * time.Minute).Admit("pipeline-0").Render()
		return s
	},
	"approval-gate-holds-run": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Gate("test").RunDeadline(300).Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", "")
	},
	"approval-releases-gate": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Gate("test").RunDeadline(300).Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Complete("pipeline-0", "").Render()
		return s.Advance(2 * time.Minute).Edit(approve("test"))
	},
	"multikueue-step-has-no-pods-here": func() *fixtures.Sim {
		w := pipeline().Queue("team-a")
		w.Spec.JobManagedBy = v1alpha1.ManagedByMultiKueue
		s := fixtures.NewSim(w.Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Admit("pipeline-0").Render()
		s.Advance(time.Minute).Complete("pipeline-0", "")
		s.Pods = nil // on the worker cluster
		return s
	},
	"ttl-deletes-finished-run": func() *fixtures.Sim {
		return ttlScenario(60)
	},
	"ttl-waits-until-expiry": func() *fixtures.Sim {
		return ttlScenario(600)
	},
}

func pipeline() *fixtures.SequentialJobWrapper {
	return fixtures.MakeSequentialJob("default", "pipeline").Steps("build", "test", "deploy")
}

func suspend(on bool) func(*v1alpha1.SequentialJobSpec) {
	return func(spec *v1alpha1.SequentialJobSpec) { spec.Suspend = ptr.To(on) }
}

func failJobOnExitCode(code int32) *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{code}}}}}
}

// continueScenario: step 1 (test) may fail, and just did.
func continueScenario() *fixtures.Sim {
	s := fixtures.NewSim(pipeline().Settings(v1alpha1.StepSettings{Name: "test", OnFailure: v1alpha1.OnFailureContinue}).Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", "").Render()
	return s.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "")
}

// failedRun: step 1 (test) failed the run.
func failedRun() *fixtures.Sim {
	s := fixtures.NewSim(pipeline().Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", "").Render()
	s.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "").Render()
	return s
}

func finallyAfterFailure() *fixtures.Sim {
	s := fixtures.NewSim(pipeline().Finally("notify").Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", "").Render()
	return s.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "")
}

func finallyAfterSuccess() *fixtures.Sim {
	s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Finally("cleanup").Obj(), t0)
	s.Render()
	return s.Advance(time.Minute).Complete("pipeline-0", "")
}

func ttlScenario(seconds int32) *fixtures.Sim {
	w := fixtures.MakeSequentialJob("default", "pipeline").Steps("build")
	w.Spec.TTLSecondsAfterFinished = &seconds
	s := fixtures.NewSim(w.Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", "").Render()
	return s
}

// TestScenarioInputsAreCurrent: the checked-in inputs of the simulated
// golden cases are what their simulation produces; -write-scenarios
// rewrites them (then run -update, and read both diffs).
func TestScenarioInputsAreCurrent(t *testing.T) {
	for name, build := range scenarios {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			if *writeScenarios {
				require.NoError(t, build().WriteCase(dir))
				return
			}
			tmp := t.TempDir()
			require.NoError(t, build().WriteCase(tmp))
			for _, file := range []string{"sequentialjob.yaml", "observed.yaml", "pods.yaml"} {
				want, _ := os.ReadFile(filepath.Join(tmp, file))
				got, _ := os.ReadFile(filepath.Join(dir, file))
				require.Equal(t, string(want), string(got), "%s/%s is stale: go test ./render -run TestScenarioInputsAreCurrent -write-scenarios", dir, file)
			}
		})
	}
}
