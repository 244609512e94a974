package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
)

// BenchmarkThreeStepRun drives 3-step runs to completion on the real
// apiserver and reports what the controller costs per run: its API requests
// other than watches, by kind (reads that bypass the cache, Job creates,
// dry-runs, status writes, other writes, events), and the wall time from
// creation to Succeeded. A 3-step run has 6 step transitions (3 starts, 3
// ends) and one run transition.
func BenchmarkThreeStepRun(b *testing.B) {
	mgr, counts := countingManager(b, reconciler.CacheOptions())
	r, err := reconciler.New(mgr, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	mgr.GetCache().WaitForCacheSync(ctx)
	ns := newNamespace(b)

	// Start-up requests (discovery, the caches' lists) are not per run.
	counts.reset()
	runs := 0
	for b.Loop() {
		sj := fixtures.MakeSequentialJob(ns, fmt.Sprintf("run-%d", runs)).Steps("a", "b", "c").Obj()
		runs++
		if err := env.Client.Create(ctx, sj); err != nil {
			b.Fatal(err)
		}
		for step := range 3 {
			if err := fixtures.CompleteJob(ctx, env.Client, waitForJob(b, sj, step)); err != nil {
				b.Fatal(err)
			}
		}
		waitForPhase(b, sj, v1alpha1.PhaseSucceeded)
	}
	for i, name := range requestKinds {
		b.ReportMetric(float64(counts.n[i].Load())/float64(runs), name+"/run")
	}
}

// requestKinds name what requestCounts counts.
var requestKinds = []string{"reads", "job-creates", "dry-runs", "status-writes", "other-writes", "events"}

type requestCounts struct{ n [6]atomic.Int64 }

func (c *requestCounts) total() int64 {
	var n int64
	for i := range c.n {
		n += c.n[i].Load()
	}
	return n
}

func (c *requestCounts) reset() {
	for i := range c.n {
		c.n[i].Store(0)
	}
}

func (c *requestCounts) count(req *http.Request) {
	path, query := req.URL.Path, req.URL.Query()
	switch {
	case query.Get("watch") == "true":
	case req.Method == http.MethodGet:
		c.n[0].Add(1)
	case strings.Contains(path, "/events"):
		c.n[5].Add(1)
	case query.Get("dryRun") != "":
		c.n[2].Add(1)
	case strings.HasSuffix(path, "/status"):
		c.n[3].Add(1)
	case strings.Contains(path, "/jobs/") && req.Header.Get("Content-Type") == "application/apply-patch+yaml":
		c.n[1].Add(1)
	default:
		c.n[4].Add(1)
	}
}

// countingManager is a manager whose every request to the apiserver is
// counted by kind.
func countingManager(t testing.TB, cache cache.Options) (ctrl.Manager, *requestCounts) {
	t.Helper()
	counts := &requestCounts{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			counts.count(req)
			return rt.RoundTrip(req)
		})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: cache, Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr, counts
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
