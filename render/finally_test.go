package render_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestFinally covers spec.finally (render/finally.go): once the steps
// ended, by success or failure, the finally steps run one after another,
// each once; the run ends only after them, Failed if a step or a finally
// step failed it.
func TestFinally(t *testing.T) {
	type want struct {
		Outcome        outcome
		Steps, Finally []step
		// InFinally and FailedIndex are status.progress's.
		InFinally   bool
		FailedIndex *int32
		// FinallyLabel is the created Job's batch.example.com/finally label.
		FinallyLabel   string
		CompletionTime *time.Time
	}
	const (
		backoff   = "Job has reached the specified backoff limit"
		completed = "Reached expected number of succeeded pods"
	)
	exited := func(container, pod string) string {
		return fmt.Sprintf("%s; container %s of pod %s exited with code 1 (Error)", backoff, container, pod)
	}
	done := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted, Message: completed, Attempt: 1}
	}
	failed := func(name, job, pod string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Message: exited(name, pod), Attempt: 1}
	}
	runs := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1}
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	finallyRunning := func(message string) map[string]cond {
		return shown(v1alpha1.ReasonFinallyRunning, message, v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	afterFailure := func(failedStep, failure, finallyStep, job string) map[string]cond {
		return finallyRunning(fmt.Sprintf(render.FmtFinallyAfterFail, failedStep, failure, finallyStep, job))
	}
	seedFailure := func(index int) string { return fmt.Sprintf(render.FmtJobFailed, index, "BackoffLimitExceeded") }
	twoFinally := func() *fixtures.Sim {
		s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Finally("report").Finally("cleanup").Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Complete("pipeline-0", "").Render()
		return s.Advance(time.Minute)
	}
	// invalidEditWhileBuildRuns: build runs; an edit adds step bad, which
	// the dry-run refuses.
	invalidEditWhileBuildRuns := func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Finally("notify").Obj(), t0)
		s.Render()
		s.Rejected = map[string]render.Rejection{"bad": {Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"}}
		return s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
			spec.Containers = append(spec.Containers, corev1.Container{Name: "bad"})
		})
	}
	invalid := func(index int) step {
		return step{Name: "bad", JobName: fmt.Sprintf("pipeline-%d", index), Phase: v1alpha1.PhaseFailed,
			Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"}
	}

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"RunsAfterSuccess": {
			reason: "Once every step succeeded, the finally step's Job is created, labelled finally; the run is Running in its finally steps.",
			sim:    finallyAfterSuccess,
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: finallyRunning(fmt.Sprintf(render.FmtFinallyAfter, 1, "finally step 0 (cleanup)", "pipeline-f0")),
					Job:        "pipeline-f0",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:     []step{done("build", "pipeline-0")},
				Finally:   []step{runs("cleanup", "pipeline-f0")},
				InFinally: true, FinallyLabel: "true",
			},
		},
		"RunsAfterFailure": {
			reason: "A failed step ends the steps (deploy never starts) and the finally step starts; the run is not Failed until it ends, and Progressing says what failed.",
			sim:    finallyAfterFailure,
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: afterFailure("step 1 (test)", seedFailure(1), "finally step 0 (notify)", "pipeline-f0"),
					Job:        "pipeline-f0",
					Events:     []string{v1alpha1.ReasonJobFailed, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:     []step{done("build", "pipeline-0"), failed("test", "pipeline-1", "pipeline-1-1"), pending("deploy", "pipeline-2")},
				Finally:   []step{runs("notify", "pipeline-f0")},
				InFinally: true, FinallyLabel: "true",
			},
		},
		"SuccessThenFinallySucceeds": {
			reason: "Steps and finally step succeeded: the run is Succeeded, counting the steps only, and completes when the finally step did.",
			sim: func() *fixtures.Sim {
				s := finallyAfterSuccess()
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-f0", "")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseSucceeded,
					Conditions: shown(v1alpha1.ReasonCompleted, fmt.Sprintf(render.FmtAllSucceeded, 1),
						v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete),
					Events:  []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted},
					Written: true,
				},
				Steps:     []step{done("build", "pipeline-0")},
				Finally:   []step{done("cleanup", "pipeline-f0")},
				InFinally: true, CompletionTime: at(2 * time.Minute),
			},
		},
		"FailureThenFinallySucceedsRunFailed": {
			reason: "A finally step that succeeds does not save the run: it fails with the seed's message for the failed step, and completes when the finally step did.",
			sim: func() *fixtures.Sim {
				s := finallyAfterFailure()
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-f0", "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonJobFailed, seedFailure(1), v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Events:     []string{v1alpha1.EventStepSucceeded},
					Written:    true,
				},
				Steps:       []step{done("build", "pipeline-0"), failed("test", "pipeline-1", "pipeline-1-1"), pending("deploy", "pipeline-2")},
				Finally:     []step{done("notify", "pipeline-f0")},
				FailedIndex: ptr.To[int32](1), CompletionTime: at(3 * time.Minute),
			},
		},
		"FinallyFailureFailsRun": {
			reason: "A failing finally step fails a run whose steps succeeded, with FinallyFailed and no failed step index.",
			sim: func() *fixtures.Sim {
				s := finallyAfterSuccess()
				s.Render()
				return s.Advance(time.Minute).Fail("pipeline-f0", "BackoffLimitExceeded", 1, "")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonFinallyFailed, fmt.Sprintf(render.FmtFinallyFailed, "finally step 0 (cleanup)", "pipeline-f0", "BackoffLimitExceeded"),
						v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Events:  []string{v1alpha1.ReasonFinallyFailed},
					Written: true,
				},
				Steps:     []step{done("build", "pipeline-0")},
				Finally:   []step{failed("cleanup", "pipeline-f0", "pipeline-f0-1")},
				InFinally: true, CompletionTime: at(2 * time.Minute),
			},
		},
		"StepFailureWinsOverFinallyFailure": {
			reason: "When a step and then a finally step fail, the run's Failed condition tells the step's failure; the finally step's is in its entry only.",
			sim: func() *fixtures.Sim {
				s := finallyAfterFailure()
				s.Render()
				return s.Advance(time.Minute).Fail("pipeline-f0", "BackoffLimitExceeded", 1, "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonJobFailed, seedFailure(1), v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Events:     []string{v1alpha1.ReasonFinallyFailed},
					Written:    true,
				},
				Steps:       []step{done("build", "pipeline-0"), failed("test", "pipeline-1", "pipeline-1-1"), pending("deploy", "pipeline-2")},
				Finally:     []step{failed("notify", "pipeline-f0", "pipeline-f0-2")},
				FailedIndex: ptr.To[int32](1), CompletionTime: at(3 * time.Minute),
			},
		},
		"FinallyStepsRunInOrder": {
			reason: "The finally steps run one after another: once report completes, cleanup starts as pipeline-f1.",
			sim: func() *fixtures.Sim {
				return twoFinally().Complete("pipeline-f0", "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: finallyRunning(fmt.Sprintf(render.FmtFinallyAfter, 1, "finally step 1 (cleanup)", "pipeline-f1")),
					Job:        "pipeline-f1",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:     []step{done("build", "pipeline-0")},
				Finally:   []step{done("report", "pipeline-f0"), runs("cleanup", "pipeline-f1")},
				InFinally: true, FinallyLabel: "true",
			},
		},
		"FinallyFailureDoesNotStopLaterFinally": {
			reason: "A failed finally step does not stop the next one: cleanup still runs, and until it ends Progressing does not mention report's failure.",
			sim: func() *fixtures.Sim {
				return twoFinally().Fail("pipeline-f0", "BackoffLimitExceeded", 1, "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: finallyRunning(fmt.Sprintf(render.FmtFinallyAfter, 1, "finally step 1 (cleanup)", "pipeline-f1")),
					Job:        "pipeline-f1",
					Events:     []string{v1alpha1.ReasonFinallyFailed, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps:     []step{done("build", "pipeline-0")},
				Finally:   []step{failed("report", "pipeline-f0", "pipeline-f0-1"), runs("cleanup", "pipeline-f1")},
				InFinally: true, FinallyLabel: "true",
			},
		},
		"NoFinallyWhenRunFailsBeforeFirstStep": {
			reason: "A run the dry-run fails before its first step starts runs no finally step: nothing ran to clean up after.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Finally("notify").Obj(), t0)
				s.Rejected = map[string]render.Rejection{"build": {Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"}}
				return s
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonInvalidStep, fmt.Sprintf(render.FmtInvalidStep, 0, "build", "image: Required value"),
						v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Events:  []string{v1alpha1.ReasonInvalidStep},
					Written: true,
				},
				Steps: []step{{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				Finally:     []step{pending("notify", "pipeline-f0")},
				FailedIndex: ptr.To[int32](0), CompletionTime: at(0),
			},
		},
		"InvalidEditWaitsForRunningStep": {
			reason: "An invalid edit while build runs ends the steps, but with a finally step the run stays Running on build (not Failed) until build's Job ends.",
			sim:    invalidEditWhileBuildRuns,
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, 0, "build", "pipeline-0", 0, 4),
						v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling),
					Events:  []string{v1alpha1.EventSpecChanged, v1alpha1.ReasonInvalidStep},
					Written: true,
				},
				Steps:   []step{runs("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2"), invalid(3)},
				Finally: []step{pending("notify", "pipeline-f0")},
			},
		},
		"InvalidEditThenFinallyRuns": {
			reason: "Once build completes after the invalid edit, the finally step runs, naming the invalid step as the failure; test and deploy never start.",
			sim: func() *fixtures.Sim {
				s := invalidEditWhileBuildRuns()
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: afterFailure("step 3 (bad)", fmt.Sprintf(render.FmtInvalidStep, 3, "bad", "image: Required value"),
						"finally step 0 (notify)", "pipeline-f0"),
					Job:     "pipeline-f0",
					Events:  []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted},
					Written: true,
				},
				Steps:     []step{done("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2"), invalid(3)},
				Finally:   []step{runs("notify", "pipeline-f0")},
				InFinally: true, FinallyLabel: "true",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps), Finally: stepsOf(d.Status.Finally),
				InFinally: d.Status.Progress.InFinally, FailedIndex: d.Status.Progress.FailedIndex, CompletionTime: timeOf(d.Status.CompletionTime)}
			if d.Job != nil {
				got.FinallyLabel = d.Job.Labels[v1alpha1.LabelFinally]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
