package render_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// Regressions found by the fuzz targets, each as the smallest run that
// shows it; all fixed, each says how.

// TestEditWhileFinallyRuns (FuzzRenderSequence): the steps of [a] ended and
// the finally step runs; an edit adds step b. b must not start while the
// finally step runs: one Job at a time, and the finally steps run once the
// steps have ended. (render started b at once, beside the finally step's
// Job, until the steps were closed once a finally step starts.)
func TestEditWhileFinallyRuns(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a").Finally("cleanup").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Complete("pipeline-0", "")
	d := sim.Render()
	require.NotNil(t, d.Job)
	require.Equal(t, "pipeline-f0", *d.Job.Name, "the finally step starts")

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers = append(spec.Containers, corev1.Container{Name: "b", Image: "busybox"})
	})
	d = sim.Render()
	assert.Nil(t, d.Job, "a step starts while the finally step's Job pipeline-f0 runs")
	assert.Equal(t, v1alpha1.PhaseRunning, d.Status.Phase)
	assert.True(t, d.Status.Progress.InFinally, "the run is still in its finally steps")
}

// TestRetryAfterReorder (FuzzRenderSequence, seed 019009563e993cf9): a
// failed, then the user moves b before a and asks for a retry in one edit.
// The retry re-runs a, the failed step, as its attempt 2; b has not run
// and runs once, as attempt 1. (The re-opened entry 0 was filled again in
// spec order: b took it, with a's attempt, and later edits could start b a
// second time, until a re-opened entry kept its place for its step.)
func TestRetryAfterReorder(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "")
	require.Equal(t, v1alpha1.PhaseFailed, sim.Render().Status.Phase)

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers[0], spec.Containers[1] = spec.Containers[1], spec.Containers[0]
		spec.RetryToken = "fixed"
	})
	d := sim.Render()
	require.NotNil(t, d.Job)
	assert.Equal(t, "a", d.Job.Labels[v1alpha1.LabelStepName], "the retry re-runs the failed step")
	assert.Equal(t, "pipeline-0-r2", *d.Job.Name)
	assert.Equal(t, "a", d.Status.Steps[0].Name)
}

// TestRetryOfRemovedStep (FuzzRenderSequence, seeds random-2 and random-3
// once TestRetryAfterReorder's fix landed): a fails; one edit removes a and
// sets a new retryToken, the way the docs advise fixing a run ("fix the
// cause in the same commit as the new token"). A step the spec no longer has
// must not run: the retry goes on with b.
//
// Before the fix, the retry re-opens a's entry and starts a again, as pipeline-0-r2,
// from a container render no longer has: containerNamed falls back to a
// container with a name and no image, which the apiserver refuses (so the
// run fails again, with InvalidStep or JobRejected for a step the user
// removed). Fixed in (render/retry.go): reopen only failed entries whose step is
// in the current spec; a removed one stays as it ended, not counted against
// the run (as a removed pending step is dropped).
func TestRetryOfRemovedStep(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "")
	require.Equal(t, v1alpha1.PhaseFailed, sim.Render().Status.Phase)

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers = spec.Containers[1:]
		spec.RetryToken = "without-a"
	})
	d := sim.Render()
	if job := d.Job; job != nil {
		assert.NotEqual(t, "a", job.Labels[v1alpha1.LabelStepName], "the retry runs a, which the spec no longer has, as Job %s with image %q",
			*job.Name, ptr.Deref(job.Spec.Template.Spec.Containers[0].Image, ""))
	}
}

// TestResumeAfterRunFailedWhileSuspended (FuzzRenderSequence, seed
// d168ad1e50385c35): a runs; the run is suspended (a's Job with it); an
// edit adds a step the dry-run refuses, so the run fails at once while a is
// suspended; then the user clears spec.suspend. a was running when the run
// failed, so it goes on to finish, as a running step does after an invalid
// edit: its Job must be resumed.
//
// Before the fix, a finished run issues no Job control, so a's Job stays suspended
// forever (no pods, never Complete nor Failed) and status.steps keeps a
// Running with reason Suspended under a Failed run. Fixed in (render/decide.go):
// for a finished run, still resume (or stop) the Job of an entry that is
// still Running when spec.suspend is not true.
func TestResumeAfterRunFailedWhileSuspended(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.Suspend = fixtures.Bool(true) })
	sim.Render()
	require.True(t, ptr.Deref(sim.Job("pipeline-0").Spec.Suspend, false), "a's Job is suspended with the run")

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers = append(spec.Containers, corev1.Container{Name: "bad", Image: "busybox"})
	})
	sim.Rejected = map[string]render.Rejection{"bad": {Reason: v1alpha1.ReasonInvalidStep, Message: "refused by the dry-run"}}
	d := sim.Render()
	require.Equal(t, v1alpha1.PhaseFailed, d.Status.Phase, "the invalid edit fails the run at once")

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.Suspend = nil })
	sim.Render()
	assert.False(t, ptr.Deref(sim.Job("pipeline-0").Spec.Suspend, false),
		"a's Job stays suspended after the run is resumed: a, recorded %s (%s), can never finish",
		sim.SJ.Status.Steps[0].Phase, sim.SJ.Status.Steps[0].Reason)
}

// renderLost renders as sim.Render does, but the status write is lost (a
// crash, a conflict): the Jobs render created exist, the stored status is
// the one before.
func renderLost(sim *fixtures.Sim) render.Desired {
	before := *sim.SJ.Status.DeepCopy()
	d := sim.Render()
	sim.SJ.Status = before
	return d
}

// TestLostWritesAcrossFinallyStart (FuzzRenderSequence, seed
// lost-writes-finally-then-retry): a completes and b starts, and b
// completes and the finally step starts, and both status writes are lost.
// Status still says a runs and b is pending; the Jobs say both ended and
// the finally step runs. b must not start again (a second Job for b,
// beside the finally step's Job, under the name b's Job already has).
//
// Before the fix, once a finally step's Job existed, the steps' list was
// taken from status alone (frozen): a followed its Job, but b, recorded
// as pending, did not, and advance started it again as pipeline-1. Fixed
// in (render/record.go, closed): the closed steps' list follows every Job
// of an entry's attempt, pending in status or not recorded at all.
func TestLostWritesAcrossFinallyStart(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Finally("cleanup").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Complete("pipeline-0", "")
	require.Equal(t, "pipeline-1", *renderLost(sim).Job.Name, "b starts; the status write is lost")
	sim.Advance(time.Minute).Complete("pipeline-1", "")
	require.Equal(t, "pipeline-f0", *renderLost(sim).Job.Name, "the finally step starts; the status write is lost")

	d := sim.Advance(time.Minute).Render()
	if d.Job != nil {
		t.Fatalf("render creates Job %s for step %s while the finally step's Job pipeline-f0 runs", *d.Job.Name, d.Job.Labels[v1alpha1.LabelStepName])
	}
	require.Len(t, d.Status.Steps, 2)
	assert.Equal(t, v1alpha1.PhaseSucceeded, d.Status.Steps[1].Phase, "b ran as pipeline-1 and succeeded")
	sim.Advance(time.Minute).Complete("pipeline-f0", "")
	assert.Equal(t, v1alpha1.PhaseSucceeded, sim.Render().Status.Phase)
}

// TestLostWriteOfFailedStepBeforeFinally (FuzzRenderSequence, seed
// lost-writes-step-forgotten-while-finally-runs): the first status write is
// lost, then a fails and the finally step starts, and that write is lost
// too. Status records nothing; the Jobs say a failed. The run must fail,
// not succeed without a or b.
//
// Before the fix, the steps' list once a finally Job existed was the
// recorded one, empty here: the run succeeded once the finally step did,
// with no step in status. Fixed with TestLostWritesAcrossFinallyStart's
// fix: the closed list follows the Jobs status does not record.
func TestLostWriteOfFailedStepBeforeFinally(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Finally("cleanup").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, renderLost(sim).Job, "a starts; the status write is lost")
	sim.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "")
	require.Equal(t, "pipeline-f0", *renderLost(sim).Job.Name, "the finally step starts; the status write is lost")

	sim.Advance(time.Minute).Complete("pipeline-f0", "")
	d := sim.Render()
	assert.Nil(t, d.Job)
	assert.Equal(t, v1alpha1.PhaseFailed, d.Status.Phase, "the run succeeds, though a failed and b never ran; steps %v", d.Status.Steps)
}

// TestLostRetryWriteThenStepRemoved (FuzzRenderSequence, seed
// lost-write-removed-step-starts-while-finally-runs): a fails, the run
// fails; a retry re-runs a. While a's second attempt runs, an edit removes
// b; a completes and the finally step starts; both writes are lost. The
// stored status is the retry's, with b pending. b, removed, must not start (and
// never beside the finally step's Job).
//
// Before the fix, the closed steps' list kept b pending, and advance
// started it, with a container spec no longer has. Fixed in
// (render/record.go, passed): in a closed list that did not stop on a
// failure, a pending entry whose step left spec is removed before its
// attempt, as newSection marks it.
func TestLostRetryWriteThenStepRemoved(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Finally("cleanup").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NotNil(t, sim.Render().Job, "a starts")
	sim.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "")
	require.Equal(t, "pipeline-f0", *sim.Render().Job.Name)
	sim.Advance(time.Minute).Complete("pipeline-f0", "")
	require.Equal(t, v1alpha1.PhaseFailed, sim.Render().Status.Phase)

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = "again" })
	require.Equal(t, "pipeline-0-r2", *sim.Render().Job.Name, "the retry re-runs a")
	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.Containers = spec.Containers[:1] })
	require.Nil(t, renderLost(sim).Job, "a runs on; the status write that drops b is lost")
	sim.Advance(time.Minute).Complete("pipeline-0-r2", "")
	require.Equal(t, "pipeline-f0-r2", *renderLost(sim).Job.Name, "the finally step runs again; the status write is lost")

	d := sim.Advance(time.Minute).Render()
	if d.Job != nil {
		t.Fatalf("render creates Job %s for step %s while the finally step's Job pipeline-f0-r2 runs", *d.Job.Name, d.Job.Labels[v1alpha1.LabelStepName])
	}
	sim.Advance(time.Minute).Complete("pipeline-f0-r2", "")
	assert.Equal(t, v1alpha1.PhaseSucceeded, sim.Render().Status.Phase)
}

// TestRetryAfterLostFirstWrite (FuzzRenderSequence, seed
// lost-step-record-then-retry): a's when is false, so the first reconcile
// skips a and starts b, and its status write is lost. b fails. Nothing
// records a: its entry is lost (lostStep), and the run fails. A retry
// re-runs b, the step that failed, as its attempt 2, once, in b's entry.
//
// Before the fix, the retry dropped the lost entry as one that never ran:
// b's entry moved to index 0, and b was listed twice, in its re-opened
// entry and again as a pending step of spec. And every reconcile marked
// the recorded lost entry lost again, failing the run the retry re-opened.
// Fixed in (render/retry.go, neverRan; render/record.go): an entry before
// one that started keeps its place, as allowed to fail (the retry goes on
// without it), and a recorded lost entry keeps its record.
func TestRetryAfterLostFirstWrite(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Settings(when("a", "false")).Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.Equal(t, "pipeline-1", *renderLost(sim).Job.Name, "a is skipped and b starts; the status write is lost")
	sim.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "")
	require.Equal(t, v1alpha1.PhaseFailed, sim.Render().Status.Phase)

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = "again" })
	d := sim.Render()
	require.NotNil(t, d.Job, "the retry starts nothing; run %s, steps %v", d.Status.Phase, d.Status.Steps)
	assert.Equal(t, "b", d.Job.Labels[v1alpha1.LabelStepName])
	assert.Equal(t, "pipeline-1-r2", *d.Job.Name, "the retry re-runs b in its entry")
	names := []string{}
	for _, step := range d.Status.Steps {
		names = append(names, step.Name)
	}
	assert.Equal(t, 1, countOf(names, "b"), "b is listed %d times in status.steps %v", countOf(names, "b"), names)
	sim.Advance(time.Minute).Complete("pipeline-1-r2", "")
	assert.Equal(t, v1alpha1.PhaseSucceeded, sim.Render().Status.Phase, "b succeeded; a is skipped by its when")
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
