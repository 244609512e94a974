package reconciler

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing, which keeps tests that don't look at metrics simple.
type Metrics struct {
	stepsStarted   *prometheus.CounterVec
	stepsSucceeded *prometheus.CounterVec
	stepsFailed    *prometheus.CounterVec
	stepDuration   *prometheus.HistogramVec
	handoff        prometheus.Histogram
	queueWait      *prometheus.HistogramVec
	runs           *prometheus.CounterVec

	// terminalSeen remembers when a step was first seen terminal while the
	// next step could not start yet, so the handoff that follows later is
	// measured from that moment. Lost on restart, like any in-flight sample.
	mu           sync.Mutex
	terminalSeen map[string]time.Time
}

// NewMetrics registers the metrics with reg. lister reads SequentialJobs
// (from the cache) when runs in progress are scraped, so that gauge is right
// after a restart without any bookkeeping.
func NewMetrics(reg prometheus.Registerer, lister client.Reader) *Metrics {
	byNamespace := []string{"namespace"}
	m := &Metrics{
		stepsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequentialjob_steps_started_total", Help: "Steps whose Job the controller created."}, byNamespace),
		stepsSucceeded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequentialjob_steps_succeeded_total", Help: "Steps whose Job reached Complete."}, byNamespace),
		stepsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequentialjob_steps_failed_total", Help: "Steps whose Job reached Failed or vanished before finishing."}, byNamespace),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sequentialjob_step_duration_seconds", Help: "Time from a step's Job creation to its Complete or Failed condition.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14)}, []string{"namespace", "outcome"}),
		handoff: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sequentialjob_handoff_latency_seconds", Help: "Time from the controller observing step i terminal to creating step i+1's Job.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sequentialjob_step_queue_wait_seconds", Help: "Time a queued step's Job waited, suspended, for admission by its queue (Kueue).",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16)}, []string{"namespace"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sequentialjob_runs_total", Help: "Runs that ended, by outcome (succeeded, failed)."}, []string{"namespace", "outcome"}),
		terminalSeen: map[string]time.Time{},
	}
	reg.MustRegister(m.stepsStarted, m.stepsSucceeded, m.stepsFailed, m.stepDuration, m.handoff, m.queueWait, m.runs,
		&runsInProgress{reader: lister, desc: prometheus.NewDesc("sequentialjob_runs_in_progress",
			"SequentialJobs that have not finished (phase Pending, Queued, Running or Suspended).", byNamespace, nil)})
	return m
}

// observe counts render's transitions. observedAt is when this reconcile
// saw the cluster; now is after its writes.
func (m *Metrics) observe(sj *v1alpha1.SequentialJob, desired render.Desired, observedAt, now time.Time) {
	if m == nil {
		return
	}
	ns := sj.Namespace
	steps := desired.Status.Steps
	endedNow := map[int]bool{}
	for _, t := range desired.Transitions {
		if t.IsRun() {
			m.observeRunEnd(ns, t.To)
			continue
		}
		step := t.Entry(desired.Status)
		if t.Started {
			m.stepsStarted.WithLabelValues(ns).Inc()
			// Handoffs are measured between the steps; a finally step or a
			// retry starts on its own clock.
			if !t.Finally && t.Index > 0 && steps[t.Index-1].Phase == v1alpha1.PhaseSucceeded {
				m.observeHandoff(string(sj.UID)+"/"+steps[t.Index-1].JobName, endedNow[t.Index-1], observedAt, now)
			}
		}
		if t.From == v1alpha1.PhaseQueued && t.To != v1alpha1.PhaseQueued && step.StartTime != nil {
			// Admitted now (or ended before it was seen admitted): the wait
			// ran from the Job's creation.
			m.queueWait.WithLabelValues(ns).Observe(now.Sub(step.StartTime.Time).Seconds())
		}
		if t.To == v1alpha1.PhaseSucceeded {
			endedNow[t.Index] = !t.Finally
		}
		m.observeStepEnd(sj, t, desired.Status, observedAt)
	}
}

// observeStepEnd counts a step that ended in this transition.
func (m *Metrics) observeStepEnd(sj *v1alpha1.SequentialJob, t render.Transition, status v1alpha1.SequentialJobStatus, observedAt time.Time) {
	ns, steps, step := sj.Namespace, status.Steps, t.Entry(status)
	switch t.To {
	case v1alpha1.PhaseSucceeded:
		m.stepsSucceeded.WithLabelValues(ns).Inc()
		m.observeDuration(ns, "succeeded", step)
		if !t.Finally && t.Index+1 < len(steps) && steps[t.Index+1].Phase != v1alpha1.PhaseRunning {
			m.sawTerminal(string(sj.UID)+"/"+t.JobName, observedAt)
		}
	case v1alpha1.PhaseFailed:
		m.stepsFailed.WithLabelValues(ns).Inc()
		m.observeDuration(ns, "failed", step)
	}
}

// observeRunEnd counts a run that ended.
func (m *Metrics) observeRunEnd(ns string, to v1alpha1.Phase) {
	switch to {
	case v1alpha1.PhaseSucceeded:
		m.runs.WithLabelValues(ns, "succeeded").Inc()
	case v1alpha1.PhaseFailed:
		m.runs.WithLabelValues(ns, "failed").Inc()
	}
}

// sawTerminal remembers when a step was first seen done while the next
// one has not started: the handoff runs from then.
func (m *Metrics) sawTerminal(key string, at time.Time) {
	m.mu.Lock()
	m.terminalSeen[key] = at
	m.mu.Unlock()
}

// observeHandoff records step i-1 -> i. When step i-1 turned terminal in this
// same reconcile, the handoff started at observedAt; otherwise when it was
// first seen terminal.
func (m *Metrics) observeHandoff(prevKey string, sameReconcile bool, observedAt, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start, seen := m.terminalSeen[prevKey]
	delete(m.terminalSeen, prevKey)
	if sameReconcile {
		start, seen = observedAt, true
	}
	if seen {
		m.handoff.Observe(now.Sub(start).Seconds())
	}
}

func (m *Metrics) observeDuration(ns, outcome string, step v1alpha1.StepStatus) {
	if step.StartTime != nil && step.CompletionTime != nil {
		m.stepDuration.WithLabelValues(ns, outcome).Observe(step.CompletionTime.Sub(step.StartTime.Time).Seconds())
	}
}

// runsInProgress is a gauge computed at scrape time from the cache.
type runsInProgress struct {
	reader client.Reader
	desc   *prometheus.Desc
}

func (c *runsInProgress) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *runsInProgress) Collect(ch chan<- prometheus.Metric) {
	list := &v1alpha1.SequentialJobList{}
	if err := c.reader.List(context.Background(), list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[string]int{}
	for _, sj := range list.Items {
		if sj.Status.Phase != v1alpha1.PhaseSucceeded && sj.Status.Phase != v1alpha1.PhaseFailed {
			counts[sj.Namespace]++
		}
	}
	for ns, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), ns)
	}
}
