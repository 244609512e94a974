package render_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// The golden cases of a step's when (render/when.go): their inputs are
// simulated (scenarios), and TestRenderGolden renders and checks them.
func init() {
	for name, build := range whenScenarios {
		scenarios[name] = build
	}
}

// when is a step's stepSettings entry with only its when.
func when(step, expr string) v1alpha1.StepSettings {
	return v1alpha1.StepSettings{Name: step, When: expr}
}

// afterBuild is pipeline (build, test, deploy) with settings, its build
// step complete with result.
func afterBuild(result string, settings ...v1alpha1.StepSettings) *fixtures.Sim {
	w := pipeline()
	for _, s := range settings {
		w.Settings(s)
	}
	s := fixtures.NewSim(w.Obj(), t0)
	s.Render()
	return s.Advance(time.Minute).Complete("pipeline-0", result)
}

// fresh is pipeline with settings, never reconciled: the check of every
// when before step 0.
func fresh(settings ...v1alpha1.StepSettings) func() *fixtures.Sim {
	return func() *fixtures.Sim {
		w := pipeline()
		for _, s := range settings {
			w.Settings(s)
		}
		return fixtures.NewSim(w.Obj(), t0)
	}
}

// finallyWhen is build, test with finally steps notify (when run.failed)
// and report (when !run.failed), test ending as ends says.
func finallyWhen(fail bool) *fixtures.Sim {
	w := fixtures.MakeSequentialJob("default", "pipeline").Steps("build", "test").Finally("notify").Finally("report").
		Settings(when("notify", "run.failed")).Settings(when("report", "!run.failed"))
	s := fixtures.NewSim(w.Obj(), t0)
	s.Render()
	s.Advance(time.Minute).Complete("pipeline-0", "").Render()
	if fail {
		return s.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "")
	}
	return s.Advance(time.Minute).Complete("pipeline-1", "")
}

var whenScenarios = map[string]func() *fixtures.Sim{
	"when-true-step-runs": func() *fixtures.Sim {
		return afterBuild("42", when("test", "steps.build.result == '42'"))
	},
	"when-false-skips-step-next-starts": func() *fixtures.Sim {
		return afterBuild("0", when("test", "int(steps.build.result) > 0"))
	},
	"when-skipped-step-referenced-later": func() *fixtures.Sim {
		return afterBuild("", when("test", "steps.build.result != ''"), when("deploy", "steps.test.phase == 'Skipped' && steps.test.result == ''"))
	},
	"when-last-steps-skipped-run-succeeds": func() *fixtures.Sim {
		return afterBuild("", when("test", "steps.build.result != ''"), when("deploy", "steps.test.phase == 'Succeeded'"))
	},
	"when-invalid-does-not-compile": fresh(when("deploy", "steps.test.phase ==")),
	"when-invalid-not-bool":         fresh(when("deploy", "steps.test.result")),
	"when-invalid-unknown-step":     fresh(when("deploy", "steps.tset.phase == 'Succeeded'")),
	"when-invalid-later-step":       fresh(when("test", "steps.deploy.phase == 'Succeeded'")),
	"when-invalid-dynamic-step":     fresh(when("deploy", "steps[run.labels['after']].phase == 'Succeeded'")),
	"when-invalid-cost-limit":       fresh(when("deploy", "run.annotations.all(a, run.annotations.all(b, a == b))")),
	"when-invalid-finally-step": func() *fixtures.Sim {
		return fixtures.NewSim(pipeline().Finally("notify").Settings(when("notify", "steps.notify.phase == 'Failed'")).Obj(), t0)
	},
	"when-invalid-edit-mid-run-fails-run": func() *fixtures.Sim {
		s := fixtures.NewSim(pipeline().Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
			spec.StepSettings = append(spec.StepSettings, when("deploy", "steps.deploy.attempt > 1"))
		})
	},
	"when-evaluation-error-fails-step": func() *fixtures.Sim {
		return afterBuild("n/a", when("test", "int(steps.build.result) > 0"))
	},
	"when-finally-run-failed": func() *fixtures.Sim {
		return finallyWhen(true)
	},
	"when-finally-run-succeeded": func() *fixtures.Sim {
		return finallyWhen(false)
	},
	"when-skip-survives-lost-status-write": func() *fixtures.Sim {
		// test is skipped and deploy's Job created, but the status that
		// said so was never written (a crash): the controller restarts on
		// the status before, with deploy's Job.
		s := afterBuild("0", when("test", "steps.build.result != '0'"))
		before := s.SJ.Status
		s.Render()
		s.SJ.Status = before
		// An edit of the run's labels after the crash makes test's when
		// true now; it must not run, its turn passed.
		s.SJ.Labels = map[string]string{"flip": "yes"}
		s.SJ.Spec.StepSettings[0].When = "steps.build.result != '0' || run.labels['flip'] == 'yes'"
		return s
	},
}

type goldenCase = struct {
	reason string
	check  func(t *testing.T, got render.Desired)
}

// invalidBeforeStart checks a run failed with InvalidStep before step 0.
func invalidBeforeStart(message string) func(t *testing.T, got render.Desired) {
	return func(t *testing.T, got render.Desired) {
		assert.Nil(t, got.Job, "nothing starts")
		fixtures.RequireRunFailedFast(t, got.Status, v1alpha1.ReasonInvalidStep, message)
		failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
		assert.Equal(t, message, failed.Message)
	}
}

var whenGoldenCases = map[string]goldenCase{
	"when-true-step-runs": {
		reason: "test's when is true (build's result is 42): test's Job is created.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-1", *got.Job.Name)
			assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted)
		},
	},
	"when-false-skips-step-next-starts": {
		reason: "test's when is false: test is Skipped (ConditionNotMet, the expression in its message), no Job for it, deploy starts in the same reconcile.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-2", *got.Job.Name, "deploy's Job; test never gets one")
			test := got.Status.Steps[1]
			assert.Equal(t, v1alpha1.PhaseSkipped, test.Phase)
			assert.Equal(t, v1alpha1.ReasonConditionNotMet, test.Reason)
			assert.Equal(t, `when "int(steps.build.result) > 0" was false`, test.Message)
			assert.Empty(t, test.Result)
			assert.Nil(t, test.StartTime)
			assert.Equal(t, v1alpha1.ExecutionState{Active: 1, Succeeded: 1, Skipped: 1}, got.Status.State)
			assert.Equal(t, []int32{0}, got.Status.Progress.CompletedIndices, "completedIndices: the steps that succeeded")
			assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.EventStepSkipped, v1alpha1.EventStepStarted)
			assert.Equal(t, `step 1 (test) was skipped: when "int(steps.build.result) > 0" was false`, got.Events[1].Message)
		},
	},
	"when-skipped-step-referenced-later": {
		reason: "deploy's when reads the skipped test: phase Skipped, result empty; deploy runs.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-2", *got.Job.Name)
			assert.Equal(t, v1alpha1.PhaseSkipped, got.Status.Steps[1].Phase)
		},
	},
	"when-last-steps-skipped-run-succeeds": {
		reason: "test and deploy are skipped: no Job, and the run Succeeded, saying which steps it skipped.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job)
			assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
			assert.Equal(t, v1alpha1.ExecutionState{Succeeded: 1, Skipped: 2}, got.Status.State)
			available := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionAvailable)
			assert.Equal(t, "all 3 steps ended: the run succeeded; 2 skipped (when was false): test, deploy", available.Message)
			assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.EventStepSkipped, v1alpha1.EventStepSkipped, v1alpha1.ReasonCompleted)
		},
	},
	"when-invalid-does-not-compile": {
		reason: "A when that does not compile fails the run before step 0, naming the step and CEL's error.",
		check:  invalidBeforeStart("step 2 (deploy) is invalid, so the run stopped before it: when \"steps.test.phase ==\": does not compile: ERROR: <input>:1:20: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | steps.test.phase ==\n | ...................^"),
	},
	"when-invalid-not-bool": {
		reason: "A when that is not a bool fails the run before step 0.",
		check:  invalidBeforeStart(`step 2 (deploy) is invalid, so the run stopped before it: when "steps.test.result": is of type string, not bool`),
	},
	"when-invalid-unknown-step": {
		reason: "A when naming a step the run does not have fails the run before step 0.",
		check:  invalidBeforeStart(`step 2 (deploy) is invalid, so the run stopped before it: when "steps.tset.phase == 'Succeeded'": names step "tset", which is not a step of this run`),
	},
	"when-invalid-later-step": {
		reason: "A when naming a step that runs after it fails the run before step 0.",
		check:  invalidBeforeStart(`step 1 (test) is invalid, so the run stopped before it: when "steps.deploy.phase == 'Succeeded'": names step "deploy", which does not run before this step`),
	},
	"when-invalid-dynamic-step": {
		reason: "steps indexed by an expression could name any step: refused before step 0.",
		check: invalidBeforeStart(`step 2 (deploy) is invalid, so the run stopped before it: when "steps[run.labels['after']].phase == 'Succeeded'": ` +
			`indexes steps with an expression: name the step in quotes, as steps['build']`),
	},
	"when-invalid-cost-limit": {
		reason: "A when whose estimated cost passes the apiserver's per-call limit fails the run before step 0.",
		check: invalidBeforeStart(`step 2 (deploy) is invalid, so the run stopped before it: when "run.annotations.all(a, run.annotations.all(b, a == b))": ` +
			`may cost up to 2542622212099, more than the limit of 1000000 (estimated for the largest inputs the API allows)`),
	},
	"when-invalid-finally-step": {
		reason: "A finally step's invalid when fails the run before step 0 too, and no finally step runs.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job)
			assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Phase)
			failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
			assert.Equal(t, v1alpha1.ReasonInvalidStep, failed.Reason)
			assert.Equal(t, `finally step 0 (notify) is invalid, so the run stopped before it: when "steps.notify.phase == 'Failed'": names step "notify", which does not run before this step`, failed.Message)
		},
	},
	"when-invalid-edit-mid-run-fails-run": {
		reason: "An edit mid-run gives deploy an invalid when: checked with the edit, it fails the run; the running step runs on.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job)
			assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Steps[2].Phase)
			assert.Equal(t, v1alpha1.ReasonInvalidStep, got.Status.Steps[2].Reason)
			assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[0].Phase)
			assert.Empty(t, got.JobControls, "the running step is left alone")
		},
	},
	"when-evaluation-error-fails-step": {
		reason: "int() of a result that is not a number: the step fails at its turn, WhenEvaluationFailed, no Job; the run fails.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job)
			test := got.Status.Steps[1]
			assert.Equal(t, v1alpha1.PhaseFailed, test.Phase)
			assert.Equal(t, v1alpha1.ReasonWhenEvaluationFailed, test.Reason)
			assert.Equal(t, `when "int(steps.build.result) > 0" could not be evaluated: type conversion error from 'string' to 'int'`, test.Message)
			assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Phase)
			failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
			assert.Equal(t, v1alpha1.ReasonWhenEvaluationFailed, failed.Reason)
			assert.Equal(t, "step 1 (test) failed: "+test.Message, failed.Message)
			assert.Equal(t, v1alpha1.ReasonWhenEvaluationFailed, got.Status.Progress.FailureReason)
		},
	},
	"when-finally-run-failed": {
		reason: "test failed: the finally step notify (when run.failed) runs.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-f0", *got.Job.Name)
		},
	},
	"when-finally-run-succeeded": {
		reason: "The steps succeeded: notify (when run.failed) is skipped and report (when !run.failed) runs.",
		check: func(t *testing.T, got render.Desired) {
			require.NotNil(t, got.Job)
			assert.Equal(t, "pipeline-f1", *got.Job.Name)
			assert.Equal(t, v1alpha1.PhaseSkipped, got.Status.Finally[0].Phase)
		},
	},
	"when-skip-survives-lost-status-write": {
		reason: "A skip whose status was lost, with the next step's Job already created, is recorded Skipped again; the skipped step never gets a Job, though its when is true now.",
		check: func(t *testing.T, got render.Desired) {
			assert.Nil(t, got.Job, "no Job for the skipped step")
			assert.Equal(t, v1alpha1.PhaseSkipped, got.Status.Steps[1].Phase)
			assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[2].Phase)
		},
	},
}
