package reconciler

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
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
	state          *stateCollector

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
	m.state = newStateCollector(lister)
	m.state.track("handoffs", m.handoffMarks)
	reg.MustRegister(m.stepsStarted, m.stepsSucceeded, m.stepsFailed, m.stepDuration, m.handoff, m.queueWait, m.runs,
		&runsInProgress{reader: lister, desc: prometheus.NewDesc("sequentialjob_runs_in_progress",
			"SequentialJobs that have not finished (phase Pending, Queued, Running or Suspended).", byNamespace, nil)},
		m.state)
	return m
}

// track exposes the size of one of the reconciler's in-memory tables.
func (m *Metrics) track(table string, size func() int) {
	if m != nil {
		m.state.track(table, size)
	}
}

// handoffMarks is the size of terminalSeen.
func (m *Metrics) handoffMarks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.terminalSeen)
}

// forget drops what is remembered of a SequentialJob that is gone: a step
// that ended while the next could not start (suspended, then deleted)
// would otherwise stay in terminalSeen for the life of the process.
func (m *Metrics) forget(uid types.UID) {
	if m == nil {
		return
	}
	prefix := string(uid) + "/"
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.terminalSeen {
		if strings.HasPrefix(key, prefix) {
			delete(m.terminalSeen, key)
		}
	}
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

// stateCollector exposes, at scrape time, how much the controller holds in
// memory: the objects of its informer cache by resource, and the entries of
// its own per-SequentialJob tables. Both should follow the runs in
// progress, not the runs ever seen: `make soak` fails when either grows
// under a steady load (docs/reliability.md).
type stateCollector struct {
	reader        client.Reader
	cache, tables *prometheus.Desc

	mu    sync.Mutex
	sizes map[string]func() int
}

const bookkeepingHelp = "Entries of the controller's in-memory tables, by table: expectations (SequentialJobs whose own writes " +
	"the cache has not shown yet), retries (SequentialJobs in an error streak), handoffs (steps that ended while the next one " +
	"could not start yet). Each goes back to 0 once the runs are gone."

func newStateCollector(reader client.Reader) *stateCollector {
	return &stateCollector{
		reader: reader,
		cache: prometheus.NewDesc("sequentialjob_controller_cache_objects",
			"Objects in the controller's informer cache, by resource (sequentialjobs, jobs, pods).", []string{"resource"}, nil),
		tables: prometheus.NewDesc("sequentialjob_controller_bookkeeping_entries", bookkeepingHelp, []string{"table"}, nil),
		sizes:  map[string]func() int{},
	}
}

func (c *stateCollector) track(table string, size func() int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sizes[table] = size
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.cache; ch <- c.tables }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	// Counted without copying: the lists are read for their length only.
	for _, l := range []struct {
		resource string
		list     client.ObjectList
	}{{"sequentialjobs", &v1alpha1.SequentialJobList{}}, {"jobs", &batchv1.JobList{}}, {"pods", &corev1.PodList{}}} {
		if err := c.reader.List(context.Background(), l.list, client.UnsafeDisableDeepCopy); err != nil {
			ch <- prometheus.NewInvalidMetric(c.cache, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.cache, prometheus.GaugeValue, float64(meta.LenList(l.list)), l.resource)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for table, size := range c.sizes {
		ch <- prometheus.MustNewConstMetric(c.tables, prometheus.GaugeValue, float64(size()), table)
	}
}
