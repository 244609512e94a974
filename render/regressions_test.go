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
