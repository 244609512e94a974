package reconciler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
)

// TestNoOpResyncMakesNoRequests: with a running step and a finished run in
// the cache, periodic resyncs reconcile both again and again, and the
// controller sends the apiserver nothing: no read, no write, no event. The
// controller here wakes on every event, resyncs included, to count the
// reconciles; the shipped one filters resyncs out before they reconcile.
func TestNoOpResyncMakesNoRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	options := reconciler.CacheOptions()
	options.SyncPeriod = ptr.To(500 * time.Millisecond)
	mgr, counts := countingManager(t, options)
	r, err := reconciler.New(mgr, nil)
	require.NoError(t, err)
	require.NoError(t, reconciler.IndexCache(mgr))
	var reconciles atomic.Int64
	require.NoError(t, ctrl.NewControllerManagedBy(mgr).For(&v1alpha1.SequentialJob{}).Owns(&batchv1.Job{}).Named("resync").
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			reconciles.Add(1)
			return r.Reconcile(ctx, req)
		})))
	go func() { _ = mgr.Start(ctx) }()

	ns := newNamespace(t)
	running := fixtures.MakeSequentialJob(ns, "running").Steps("a", "b").Obj()
	finished := fixtures.MakeSequentialJob(ns, "finished").Steps("a").Obj()
	require.NoError(t, env.Client.Create(ctx, running))
	require.NoError(t, env.Client.Create(ctx, finished))
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, running, 0)))
	waitForJob(t, running, 1)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, waitForJob(t, finished, 0)))
	waitForPhase(t, finished, v1alpha1.PhaseSucceeded)
	require.Eventually(t, func() bool {
		return getSJ(t, running).Status.Steps[1].Phase == v1alpha1.PhaseRunning
	}, waitFor, tick)
	// Let the writes of the last transitions (events, finalizer releases) land.
	require.Eventually(t, func() bool {
		before := counts.total()
		time.Sleep(time.Second)
		return counts.total() == before
	}, waitFor, tick)

	counts.reset()
	start := reconciles.Load()
	require.Eventually(t, func() bool { return reconciles.Load() >= start+6 }, waitFor, tick, "resyncs reconcile both runs")
	for i, name := range requestKinds {
		assert.Zero(t, counts.n[i].Load(), "%s during no-op resyncs", name)
	}
}
