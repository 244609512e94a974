package render_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// Regressions found by the fuzz targets, each as the smallest run that shows it.

// TestEditWhileFinallyRuns (FuzzRenderSequence): the steps of [a] ended and
// the finally step runs; an edit adds step b. b must not start while the
// finally step runs: one Job at a time, and the finally steps run once the
// steps have ended.
//
// Today render starts b at once, beside the finally step's Job: decide()
// advances the steps whenever one is pending and none failed, without
// asking whether the finally steps have begun. Fix (render/plan.go or
// record.go): once a finally entry has started (and no retry re-opened the
// steps), the steps are closed: the record adds no pending step for the
// current spec, as for a finished run, and the edit gets the SpecChanged
// warning an edit of a finished run gets.
func TestEditWhileFinallyRuns(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a").Finally("cleanup").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.Len(t, sim.Render().Jobs, 1, "a starts")
	sim.Advance(time.Minute).Complete("pipeline-0", "")
	d := sim.Render()
	require.Len(t, d.Jobs, 1)
	require.Equal(t, "pipeline-f0", *d.Jobs[0].Name, "the finally step starts")

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers = append(spec.Containers, corev1.Container{Name: "b", Image: "busybox"})
	})
	d = sim.Render()
	assert.Empty(t, d.Jobs, "a step starts while the finally step's Job pipeline-f0 runs")
	assert.Equal(t, v1alpha1.PhaseRunning, d.Status.Phase)
	assert.True(t, d.Status.Progress.InFinally, "the run is still in its finally steps")
}

// TestRetryAfterReorder (FuzzRenderSequence, seed 019009563e993cf9): a
// failed, then the user moves b before a and asks for a retry in one edit.
// The retry re-runs a, the failed step, as its attempt 2; b has not run
// and runs once, as attempt 1.
//
// Today the re-opened entry 0 is filled again in spec order: b takes it,
// with a's attempt, as Job pipeline-0-r2; a's record is gone. Later edits
// can then start b a second time (the seed does, as pipeline-3-r2). Fix
// (render/retry.go or record.go): a retry re-opens the failed entry for the
// same step, by name, keeping its place; the pending steps of the current
// spec follow the entries that ran, as always.
func TestRetryAfterReorder(t *testing.T) {
	sim := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("a", "b").Obj(),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.Len(t, sim.Render().Jobs, 1, "a starts")
	sim.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "")
	require.Equal(t, v1alpha1.PhaseFailed, sim.Render().Status.Phase)

	sim.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
		spec.Containers[0], spec.Containers[1] = spec.Containers[1], spec.Containers[0]
		spec.RetryToken = "fixed"
	})
	d := sim.Render()
	require.Len(t, d.Jobs, 1)
	assert.Equal(t, "a", d.Jobs[0].Labels[v1alpha1.LabelStepName], "the retry re-runs the failed step")
	assert.Equal(t, "pipeline-0-r2", *d.Jobs[0].Name)
	assert.Equal(t, "a", d.Status.Steps[0].Name)
}
