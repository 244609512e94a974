package render_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestNeeds: render asks the cluster only what its one decision depends
// on, and a render with the answers asks nothing more.
func TestNeeds(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, tc := range map[string]struct {
		reason      string
		obs         render.Observed
		at          time.Time
		wantReason  string
		wantDryRun  []string
		wantClaims  []string
		wantAccount string
	}{
		"first reconcile with a claim template": {
			reason:     "Before step 0 the run's claims are dry-run with its steps' Jobs.",
			obs:        observe(fixtures.MakeSequentialJob("default", "p").Steps("a", "b").Workspace("ws", "").Obj(), start, 0),
			at:         start,
			wantDryRun: []string{"p-0", "p-1"},
			wantClaims: []string{"p-ws"},
		},
		"first reconcile": {
			reason:      "Before step 0 every step is dry-run, and the ServiceAccount of step 0's pods is checked.",
			obs:         observe(fixtures.MakeSequentialJob("default", "p").Steps("a", "b").ServiceAccount("runner").Obj(), start, 0),
			at:          start,
			wantDryRun:  []string{"p-0", "p-1"},
			wantAccount: "runner",
		},
		"past its deadline": {
			reason:     "A run whose deadline passed fails now: no step starts, so no dry-run and no ServiceAccount is asked for, though the spec changed.",
			obs:        observe(fixtures.MakeSequentialJob("default", "p").Steps("a", "b").ServiceAccount("runner").RunDeadline(60).Obj(), start, 2*time.Minute),
			at:         start.Add(2 * time.Minute),
			wantReason: v1alpha1.ReasonDeadlineExceeded,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := render.Render(tc.obs, tc.at)
			var dryRun []string
			for _, job := range d.Needs.DryRun {
				dryRun = append(dryRun, *job.Name)
			}
			assert.Equal(t, tc.wantDryRun, dryRun, "dry-run")
			var claims []string
			for _, claim := range d.Needs.DryRunClaims {
				claims = append(claims, *claim.Name)
			}
			assert.Equal(t, tc.wantClaims, claims, "dry-run of the claims")
			assert.Equal(t, tc.wantAccount, d.Needs.ServiceAccount, "ServiceAccount")
			assert.Empty(t, d.Needs.PodsOf)

			if tc.wantReason != "" {
				assert.Equal(t, tc.wantReason, d.Status.Progress.FailureReason)
			}
			answered, _, err := render.RenderAnswered(tc.obs, tc.at,
				func(render.Needs) (*render.Answers, error) { return &render.Answers{}, nil })
			require.NoError(t, err)
			assert.True(t, answered.Needs.Empty(), "a render with answers needs nothing more: %+v", answered.Needs)
		})
	}
}

// observe is what a reconcile of sj sees after it ran for ran (none: it
// is new), with its spec edited since (a new generation).
func observe(sj *v1alpha1.SequentialJob, start time.Time, ran time.Duration) render.Observed {
	sim := fixtures.NewSim(sj, start)
	if ran > 0 {
		sim.Render()
		sim.Advance(ran)
	}
	obs := sim.Observed()
	obs.SequentialJob.Generation = obs.SequentialJob.Status.ObservedGeneration + 1
	return obs
}
