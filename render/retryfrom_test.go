package render_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// The golden cases of spec.retryFrom (render/retry.go): TestRenderGolden
// renders and checks them.
func init() {
	for name, build := range retryFromScenarios {
		scenarios[name] = build
	}
}

// retryFrom is the edit a `kubectl sequentialjob retry --from` makes: a new
// token and the step to start from, in one apply.
func retryFrom(token, step string) func(*v1alpha1.SequentialJobSpec) {
	return func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken, spec.RetryFrom = token, step }
}

// succeededRun: pipeline (build, test, deploy) succeeded, build with result
// build's output; finally steps, when given, ran and succeeded too.
func succeededRun(result string, finally ...string) *fixtures.Sim {
	w := pipeline()
	for _, f := range finally {
		w.Finally(f)
	}
	s := fixtures.NewSim(w.Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", result).Render()
	s.Advance(time.Minute).Complete("pipeline-1", "").Render()
	s.Advance(time.Minute).Complete("pipeline-2", "").Render()
	for i := range finally {
		s.Advance(time.Minute).Complete(fmt.Sprintf("pipeline-f%d", i), "").Render()
	}
	return s
}

// failedWhileBuildRuns: an edit made test invalid while build ran, which
// failed the run with build's Job still running; the fix and a retry from
// build come next.
func failedWhileBuildRuns() *fixtures.Sim {
	s := fixtures.NewSim(pipeline().Obj(), t0)
	s.Render()
	s.Rejected = map[string]render.Rejection{"test": {Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"}}
	s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.BackoffLimit = ptr.To[int32](1) }).Render()
	s.Rejected = nil
	return s.Advance(time.Minute).Edit(retryFrom("again", "build"))
}

var retryFromScenarios = map[string]func() *fixtures.Sim{
	"retry-from-second-step-of-succeeded-run": func() *fixtures.Sim {
		return succeededRun("v1").Advance(time.Minute).Edit(retryFrom("again", "test"))
	},
	"retry-from-earlier-than-failed-step": func() *fixtures.Sim {
		return failedRun().Advance(time.Minute).Edit(retryFrom("again", "build"))
	},
	"retry-from-runs-finally-again": func() *fixtures.Sim {
		return succeededRun("", "cleanup").Advance(time.Minute).Edit(retryFrom("again", "deploy"))
	},
	"retry-from-set-without-new-token": func() *fixtures.Sim {
		return succeededRun("v1").Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryFrom = "test" })
	},
}

// TestRetryFrom covers spec.retryFrom (render/retry.go): with a new
// spec.retryToken, that step and every later one run again, each as its
// next attempt, on a Failed or a Succeeded run; the steps before it keep
// their results, and the finally steps run again.
func TestRetryFrom(t *testing.T) {
	type want struct {
		Outcome        outcome
		Steps, Finally []step
		Attempt        int32
		// RetryEvent is the message of the Retry or RetryIgnored event.
		RetryEvent string
	}
	succeeded := func(name, job string, attempt int32, previous ...string) step {
		s := step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
			Message: "Reached expected number of succeeded pods", Attempt: attempt}
		for _, p := range previous {
			s.PreviousJobs = append(s.PreviousJobs, p)
			s.PreviousPhases = append(s.PreviousPhases, v1alpha1.PhaseSucceeded)
		}
		return s
	}
	started := func(name, job string, attempt int32, previous string, was v1alpha1.Phase) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: attempt,
			PreviousJobs: []string{previous}, PreviousPhases: []v1alpha1.Phase{was}}
	}
	again := func(name, job string, attempt int32, previous string, was v1alpha1.Phase) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending, Attempt: attempt,
			PreviousJobs: []string{previous}, PreviousPhases: []v1alpha1.Phase{was}}
	}
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	retried := func(token string, attempt int, from, step string) string {
		return fmt.Sprintf(render.FmtRetryFrom, token, attempt, from, step)
	}
	allSucceeded := shown(v1alpha1.ReasonCompleted, fmt.Sprintf(render.FmtAllSucceeded, 3), v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete)
	withResult := func(s step, result string) step { s.Result = result; return s }

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"SucceededRunFromSecondStep": {
			reason: "retryFrom test on a Succeeded run: test runs again as attempt 2 (Job pipeline-1-r2), deploy waits for its attempt 2; build keeps its result and its Job.",
			sim:    retryFromScenarios["retry-from-second-step-of-succeeded-run"],
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1-r2", 1, 3), Job: "pipeline-1-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					withResult(succeeded("build", "pipeline-0", 1), "v1"),
					started("test", "pipeline-1-r2", 2, "pipeline-1", v1alpha1.PhaseSucceeded),
					again("deploy", "pipeline-2-r2", 2, "pipeline-2", v1alpha1.PhaseSucceeded),
				},
				Attempt: 2, RetryEvent: retried("again", 2, "step 1 (test)", "test"),
			},
		},
		"SucceededRunFromLastStep": {
			reason: "retryFrom deploy re-runs the last step alone.",
			sim:    func() *fixtures.Sim { return succeededRun("").Advance(time.Minute).Edit(retryFrom("again", "deploy")) },
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(2, "deploy", "pipeline-2-r2", 2, 3), Job: "pipeline-2-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					succeeded("build", "pipeline-0", 1), succeeded("test", "pipeline-1", 1),
					started("deploy", "pipeline-2-r2", 2, "pipeline-2", v1alpha1.PhaseSucceeded),
				},
				Attempt: 2, RetryEvent: retried("again", 2, "step 2 (deploy)", "deploy"),
			},
		},
		"RerunStepsSucceedOnceEach": {
			reason: "Exactly once: test and deploy each get one new Job for the token; the run succeeds again at attempt 2, and a further reconcile creates nothing.",
			sim: func() *fixtures.Sim {
				s := succeededRun("").Advance(time.Minute).Edit(retryFrom("again", "test"))
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-1-r2", "").Render()
				s.Advance(time.Minute).Complete("pipeline-2-r2", "").Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseSucceeded, Conditions: allSucceeded},
				Steps: []step{
					succeeded("build", "pipeline-0", 1),
					succeeded("test", "pipeline-1-r2", 2, "pipeline-1"),
					succeeded("deploy", "pipeline-2-r2", 2, "pipeline-2"),
				},
				Attempt: 2,
			},
		},
		"FinallyStepsRunAgain": {
			reason: "The finally steps ran for the run's ending; the run will end again, so they wait for their attempt 2.",
			sim:    retryFromScenarios["retry-from-runs-finally-again"],
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(2, "deploy", "pipeline-2-r2", 2, 3), Job: "pipeline-2-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					succeeded("build", "pipeline-0", 1), succeeded("test", "pipeline-1", 1),
					started("deploy", "pipeline-2-r2", 2, "pipeline-2", v1alpha1.PhaseSucceeded),
				},
				Finally: []step{again("cleanup", "pipeline-f0-r2", 2, "pipeline-f0", v1alpha1.PhaseSucceeded)},
				Attempt: 2, RetryEvent: retried("again", 2, "step 2 (deploy)", "deploy"),
			},
		},
		"FailedRunFromEarlierStep": {
			reason: "test failed the run; retryFrom build runs build again (it succeeded), then test (attempt 2); deploy never ran and waits as attempt 1.",
			sim:    retryFromScenarios["retry-from-earlier-than-failed-step"],
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(0, "build", "pipeline-0-r2", 0, 3), Job: "pipeline-0-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					started("build", "pipeline-0-r2", 2, "pipeline-0", v1alpha1.PhaseSucceeded),
					again("test", "pipeline-1-r2", 2, "pipeline-1", v1alpha1.PhaseFailed),
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhasePending},
				},
				Attempt: 2, RetryEvent: retried("again", 2, "step 0 (build)", "build"),
			},
		},
		"FailedRunFromLaterStepStartsAtFailedStep": {
			reason: "test failed the run and retryFrom names deploy, after it: the steps between never succeeded, so the retry starts at test, the failed step, as a plain retry does.",
			sim:    func() *fixtures.Sim { return failedRun().Advance(time.Minute).Edit(retryFrom("again", "deploy")) },
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1-r2", 1, 3), Job: "pipeline-1-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					succeeded("build", "pipeline-0", 1),
					started("test", "pipeline-1-r2", 2, "pipeline-1", v1alpha1.PhaseFailed),
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhasePending},
				},
				Attempt: 2, RetryEvent: retried("again", 2, "step 1 (test)", "deploy"),
			},
		},
		"WithoutNewTokenNothingRuns": {
			reason: "retryFrom alone is not a retry: the finished run is final, and the edit is warned about as any edit of a finished run.",
			sim:    retryFromScenarios["retry-from-set-without-new-token"],
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseSucceeded, Conditions: allSucceeded, Events: []string{v1alpha1.EventSpecChanged}, Written: true},
				Steps: []step{
					withResult(succeeded("build", "pipeline-0", 1), "v1"), succeeded("test", "pipeline-1", 1), succeeded("deploy", "pipeline-2", 1),
				},
				Attempt: 1,
			},
		},
		"TokenWhileRunningOnlyRecorded": {
			reason: "A new token with retryFrom on a running run is recorded and warned about; the run goes on as it was, and is not retried later for that token.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Edit(retryFrom("early", "build"))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(0, "build", "pipeline-0", 0, 3),
					Events: []string{v1alpha1.EventRetryIgnored}, Written: true},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhasePending},
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhasePending},
				},
				Attempt: 1, RetryEvent: fmt.Sprintf(render.FmtRetryFromIgnored, "early", v1alpha1.PhaseRunning, "build"),
			},
		},
		"StepRemovedBeforeItsAttemptDoesNotRun": {
			reason: "retryFrom test re-opens test and deploy; an edit then removes deploy before its attempt 2 starts: as a removed pending step it does not run (Skipped, RemovedFromSpec, its history kept), and the run succeeds once test does.",
			sim: func() *fixtures.Sim {
				s := succeededRun("").Advance(time.Minute).Edit(retryFrom("again", "test"))
				s.Render()
				s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.Containers = spec.Containers[:2] }).Render()
				return s.Advance(time.Minute).Complete("pipeline-1-r2", "")
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseSucceeded,
					Conditions: shown(v1alpha1.ReasonCompleted, fmt.Sprintf(render.FmtSucceededSkipping, 3, 1, "deploy"),
						v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete),
					Events: []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted}, Written: true},
				Steps: []step{
					succeeded("build", "pipeline-0", 1),
					succeeded("test", "pipeline-1-r2", 2, "pipeline-1"),
					{Name: "deploy", JobName: "pipeline-2-r2", Phase: v1alpha1.PhaseSkipped, Reason: v1alpha1.ReasonRemovedFromSpec,
						Message: render.MsgRemovedBeforeAttempt, Attempt: 2,
						PreviousJobs: []string{"pipeline-2"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseSucceeded}},
				},
				Attempt: 2,
			},
		},
		"RetryWaitsForRunningJob": {
			reason: "An edit found test invalid while build ran, failing the run with build's Job still running; a retry from build waits for that Job: nothing starts, the token is not yet seen, no event.",
			sim:    failedWhileBuildRuns,
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonInvalidStep, fmt.Sprintf(render.FmtInvalidStep, 1, "test", "image: Required value"),
						v1alpha1.ConditionFailed, v1alpha1.ConditionStalled), Written: true},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"},
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhasePending},
				},
				Attempt: 1,
			},
		},
		"RetryGoesOnOnceTheJobEnds": {
			reason: "Once build's Job ends, the waiting retry from build re-opens the run: build runs again as attempt 2.",
			sim: func() *fixtures.Sim {
				s := failedWhileBuildRuns()
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(0, "build", "pipeline-0-r2", 0, 3), Job: "pipeline-0-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					started("build", "pipeline-0-r2", 2, "pipeline-0", v1alpha1.PhaseSucceeded),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhasePending},
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhasePending},
				},
				Attempt: 2, RetryEvent: retried("again", 2, "step 0 (build)", "build"),
			},
		},
		"SkippedStepEvaluatedAgain": {
			reason: "deploy was skipped in attempt 1 (when run.attempt > 1); the retry from test makes it pending, its when is evaluated again, and it runs as its first attempt, Job pipeline-2.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Settings(when("deploy", "run.attempt > 1")).Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-0", "").Render()
				s.Advance(time.Minute).Complete("pipeline-1", "").Render()
				s.Advance(time.Minute).Edit(retryFrom("again", "test")).Render()
				return s.Advance(time.Minute).Complete("pipeline-1-r2", "")
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(2, "deploy", "pipeline-2", 2, 3), Job: "pipeline-2",
					Events: []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{
					succeeded("build", "pipeline-0", 1),
					succeeded("test", "pipeline-1-r2", 2, "pipeline-1"),
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
				},
				Attempt: 2,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps), Finally: stepsOf(d.Status.Finally), Attempt: d.Status.Attempt}
			for _, e := range d.Events {
				if e.Reason == v1alpha1.EventRetry || e.Reason == v1alpha1.EventRetryIgnored {
					got.RetryEvent = e.Message
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n(-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// retryFromGoldenCases are the golden cases of retryFromScenarios, for
// TestRenderGolden.
var retryFromGoldenCases = map[string]goldenCase{
	"retry-from-second-step-of-succeeded-run": {
		reason: "A new token with retryFrom test re-opens the Succeeded run: test runs again as Job pipeline-1-r2; build keeps its result; deploy waits for attempt 2.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-1-r2", *got.Job.Name)
			assert.Equal(t, "v1", got.Status.Steps[0].Result)
			assert.Equal(t, "pipeline-2-r2", got.Status.Steps[2].JobName)
			assertEvents(t, got, v1alpha1.EventRetry, v1alpha1.EventStepStarted)
		},
	},
	"retry-from-earlier-than-failed-step": {
		reason: "retryFrom build on a run that test failed: build runs again first, as Job pipeline-0-r2.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-0-r2", *got.Job.Name)
			assertEvents(t, got, v1alpha1.EventRetry, v1alpha1.EventStepStarted)
		},
	},
	"retry-from-runs-finally-again": {
		reason: "retryFrom deploy on a Succeeded run with a finally step: deploy runs again, and cleanup waits for its attempt 2.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-2-r2", *got.Job.Name)
			assert.Equal(t, "pipeline-f0-r2", got.Status.Finally[0].JobName)
			assert.Equal(t, v1alpha1.PhasePending, got.Status.Finally[0].Phase)
		},
	},
	"retry-from-set-without-new-token": {
		reason: "retryFrom alone, with the token unchanged, starts nothing: the finished run is final.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job)
			assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
			assertEvents(t, got, v1alpha1.EventSpecChanged)
		},
	},
}
