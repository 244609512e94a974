package soak

import (
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The figures the soak samples, by the name the table and the verdicts use.
const (
	figRSS          = "rss"
	figGoroutines   = "goroutines"
	figHeap         = "heap in use"
	figCache        = "cache objects"
	figCacheSJ      = "cache sequentialjobs"
	figCacheJobs    = "cache jobs"
	figCachePods    = "cache pods"
	figExpectations = "expectations"
	figRetries      = "retries"
	figHandoffs     = "handoff marks"
	figSeries       = "metric series"
)

// watched are the figures that fail the soak when they grow (rule_test.go).
// The cache follows the runs in flight, which the soak keeps steady; the
// tables are near zero, hence their slack.
var watched = []figure{
	{name: figRSS, unit: "MiB"},
	{name: figGoroutines, slack: 5},
	{name: figHeap, unit: "MiB"},
	{name: figCache, slack: 10},
	{name: figExpectations, slack: 2},
	{name: figRetries, slack: 2},
	{name: figHandoffs, slack: 2},
	{name: figSeries},
}

// scrape reads the controller's metrics endpoint (plain HTTP: the soak
// starts it with --metrics-secure=false) and returns the figures.
func scrape(addr string) (map[string]float64, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }() // read side: nothing is lost
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	// A figure the endpoint does not expose would read 0 and never grow:
	// its absence is an error, not a pass.
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines", "go_memstats_heap_inuse_bytes",
		"sequentialjob_controller_cache_objects", "sequentialjob_controller_bookkeeping_entries"} {
		if families[name] == nil {
			return nil, fmt.Errorf("the controller does not expose %s", name)
		}
	}
	out := map[string]float64{
		figRSS:        gauge(families["process_resident_memory_bytes"], "", ""),
		figGoroutines: gauge(families["go_goroutines"], "", ""),
		figHeap:       gauge(families["go_memstats_heap_inuse_bytes"], "", ""),
		figSeries:     float64(seriesCount(families)),
	}
	cache := families["sequentialjob_controller_cache_objects"]
	tables := families["sequentialjob_controller_bookkeeping_entries"]
	out[figCacheSJ] = gauge(cache, "resource", "sequentialjobs")
	out[figCacheJobs] = gauge(cache, "resource", "jobs")
	out[figCachePods] = gauge(cache, "resource", "pods")
	out[figCache] = out[figCacheSJ] + out[figCacheJobs] + out[figCachePods]
	out[figExpectations] = gauge(tables, "table", "expectations")
	out[figRetries] = gauge(tables, "table", "retries")
	out[figHandoffs] = gauge(tables, "table", "handoffs")
	return out, nil
}

// gauge is the value of the family's sample with label=value (any sample
// when label is empty); 0 when there is none.
func gauge(family *dto.MetricFamily, label, value string) float64 {
	if family == nil {
		return 0
	}
	for _, m := range family.Metric {
		if label != "" && !hasLabel(m, label, value) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// seriesCount is the number of time series the endpoint exposes, about as
// Prometheus stores them: a histogram is one per bucket plus _sum and
// _count, a summary one per quantile plus _sum and _count.
func seriesCount(families map[string]*dto.MetricFamily) int {
	n := 0
	for _, f := range families {
		for _, m := range f.Metric {
			switch {
			case m.Histogram != nil:
				n += len(m.Histogram.Bucket) + 2
			case m.Summary != nil:
				n += len(m.Summary.Quantile) + 2
			default:
				n++
			}
		}
	}
	return n
}
