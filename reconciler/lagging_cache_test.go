package reconciler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
)

// laggingCacheClient serves one SequentialJob from a copy taken earlier,
// as a cache whose SequentialJob watch was cut, and is re-opened only after
// the reflector's backoff, does (make chaos cuts every watch after 1 to 10 s).
// The Job and pod watches keep going.
type laggingCacheClient struct {
	client.Client
	mu     sync.Mutex
	frozen *v1alpha1.SequentialJob
}

func (c *laggingCacheClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	frozen := c.frozen
	c.mu.Unlock()
	if sj, ok := obj.(*v1alpha1.SequentialJob); ok && frozen != nil && key == client.ObjectKeyFromObject(frozen) {
		frozen.DeepCopyInto(sj)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *laggingCacheClient) freeze(sj *v1alpha1.SequentialJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = sj
}

// TestCacheLaggingPastTheTimeoutRepeatsNoEvent is the regression test of
// the events make chaos saw posted twice under API faults. The cache keeps
// showing the status from before step 0 ended for longer than the
// expectations' timeout: a reconcile reads live then, as it should. The
// next one trusted the cache again, found step 0 still running in it, and
// announced step 0's end and step 1's start a second time. Now the cache
// is trusted only once it shows what the live read showed; until then
// every reconcile waits or reads live, and each transition is announced
// once.
func TestCacheLaggingPastTheTimeoutRepeatsNoEvent(t *testing.T) {
	ctx := context.Background()
	lag := &laggingCacheClient{}
	startController(t, func(r *reconciler.Reconciler) {
		lag.Client = r.Client
		r.Client = lag
	})
	sj := fixtures.MakeSequentialJob(newNamespace(t), "lagging").Steps("a", "b", "c").Obj()
	require.NoError(t, env.Client.Create(ctx, sj))
	job0 := waitForJob(t, sj, 0)
	cached := &v1alpha1.SequentialJob{}
	require.Eventually(t, func() bool {
		return lag.Client.Get(ctx, client.ObjectKeyFromObject(sj), cached) == nil &&
			len(cached.Status.Steps) == 3 && cached.Status.Steps[0].Phase == v1alpha1.PhaseRunning
	}, waitFor, tick, "the cache shows step 0 running")
	lag.freeze(cached.DeepCopy())

	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job0))
	job1 := waitForJob(t, sj, 1)
	// The reconcile that Job 1's creation wakes waits for the cache, then,
	// once the expectations' timeout (15 s) has passed, reads live.
	time.Sleep(18 * time.Second)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job1))
	job2 := waitForJob(t, sj, 2)
	lag.freeze(nil)
	require.NoError(t, fixtures.CompleteJob(ctx, env.Client, job2))
	waitForPhase(t, sj, v1alpha1.PhaseSucceeded)
	assert.Len(t, jobsOf(t, sj), 3, "one Job per step")

	want := map[string]int{
		"StepStarted: step 0 (a) started: created Job lagging-0":         1,
		"StepSucceeded: step 0 (a) succeeded: Job lagging-0 is Complete": 1,
		"StepStarted: step 1 (b) started: created Job lagging-1":         1,
		"StepSucceeded: step 1 (b) succeeded: Job lagging-1 is Complete": 1,
		"StepStarted: step 2 (c) started: created Job lagging-2":         1,
		"StepSucceeded: step 2 (c) succeeded: Job lagging-2 is Complete": 1,
		"Completed: all 3 steps succeeded":                               1,
	}
	require.Eventually(t, func() bool {
		got := eventCounts(t, sj)
		for k := range got {
			if _, ok := want[k]; !ok {
				delete(got, k)
			}
		}
		return assert.ObjectsAreEqual(want, got)
	}, 10*time.Second, tick, "each transition announced once: %v", eventCounts(t, sj))
}
