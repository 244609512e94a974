package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
)

// BenchmarkThreeStepRun drives 3-step runs to completion on the real
// apiserver and reports what the controller costs per run: its API requests
// other than watches (reads that bypass the cache, and writes), and the wall
// time from creation to Succeeded.
func BenchmarkThreeStepRun(b *testing.B) {
	var reads, writes atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			switch {
			case req.URL.Query().Get("watch") == "true":
			case req.Method == http.MethodGet:
				reads.Add(1)
			default:
				writes.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: reconciler.CacheOptions(), Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := reconciler.New(mgr, nil).SetupWithManager(mgr); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	mgr.GetCache().WaitForCacheSync(ctx)
	ns := newNamespace(b)

	// Start-up requests (discovery, the caches' lists) are not per run.
	reads.Store(0)
	writes.Store(0)
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
	b.ReportMetric(float64(reads.Load())/float64(runs), "reads/run")
	b.ReportMetric(float64(writes.Load())/float64(runs), "writes/run")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
