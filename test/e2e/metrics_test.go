package e2e

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestMetrics runs a 3-step SequentialJob and scrapes the controller's
// metrics endpoint as Prometheus would. It is not parallel: the controller
// kill test restarts the process, and with it the counters.
func TestMetrics(t *testing.T) {
	ns := newNamespace(t)
	const name = "measured"
	// Prometheus's token: its ServiceAccount bound to the shipped reader role.
	token := serviceAccountToken(t, ns, "prometheus", metricsReader)
	scrape := func(t *testing.T) map[string]*dto.MetricFamily { return scrapeWith(t, token) }
	handoffsBefore := scrape(t)["sequentialjob_handoff_latency_seconds"]

	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a", "b", "c").Duration("2s").Obj())
	waitForSJ(t, ns, name, "to run", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseRunning })
	assert.Equal(t, 1.0, value(scrape(t)["sequentialjob_runs_in_progress"], map[string]string{"namespace": ns}), "runs in progress while running")
	sj := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase)

	metrics := scrape(t)
	byNS := map[string]string{"namespace": ns}
	assert.Equal(t, 3.0, value(metrics["sequentialjob_steps_started_total"], byNS), "steps started")
	assert.Equal(t, 3.0, value(metrics["sequentialjob_steps_succeeded_total"], byNS), "steps succeeded")
	assert.Equal(t, 0.0, value(metrics["sequentialjob_steps_failed_total"], byNS), "steps failed")
	assert.Equal(t, 1.0, value(metrics["sequentialjob_runs_total"], map[string]string{"namespace": ns, "outcome": "succeeded"}), "runs succeeded")
	assert.Equal(t, uint64(3), histogramCount(metrics["sequentialjob_step_duration_seconds"], map[string]string{"namespace": ns, "outcome": "succeeded"}), "step durations observed")
	assert.Equal(t, uint64(2), histogramCount(metrics["sequentialjob_handoff_latency_seconds"], nil)-histogramCount(handoffsBefore, nil),
		"two handoffs (a->b, b->c) observed")
	assert.Equal(t, 0.0, value(metrics["sequentialjob_runs_in_progress"], byNS), "the run is no longer in progress")
}

// scrapeWith reads the metrics endpoint in the Prometheus text format, with
// a bearer token as Prometheus sends it.
func scrapeWith(t *testing.T, token string) map[string]*dto.MetricFamily {
	t.Helper()
	resp := metricsGet(t, token)
	defer func() { _ = resp.Body.Close() }() // read side: nothing is lost
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// matching is the family's sample whose labels include want, or nil.
func matching(family *dto.MetricFamily, want map[string]string) *dto.Metric {
	if family == nil {
		return nil
	}
	for _, m := range family.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if ok {
			return m
		}
	}
	return nil
}

// value is a counter's or gauge's value; an absent sample counts as 0.
func value(family *dto.MetricFamily, labels map[string]string) float64 {
	m := matching(family, labels)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func histogramCount(family *dto.MetricFamily, labels map[string]string) uint64 {
	if m := matching(family, labels); m != nil && m.Histogram != nil {
		return m.Histogram.GetSampleCount()
	}
	return 0
}
