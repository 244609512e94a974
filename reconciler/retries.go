package reconciler

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"example.com/sequentialjob/render"
)

// retries remembers, per SequentialJob, since when its reconciles keep
// meeting an apiserver error, and spaces its retries with exponential
// backoff (workqueue's limiter, 50 ms doubling up to two minutes: the
// default's 16-minute ceiling would leave a run waiting long after a
// missing ServiceAccount or quota was fixed, and nothing we watch tells us
// about those). The controller retries by RequeueAfter rather than by
// returning the error, so that an error younger than
// render.ErrorGracePeriod is not logged as one on every try.
//
// It lives in memory: a restarted controller starts the grace period again,
// which errs on the side of reporting later, never of failing sooner.
type retries struct {
	mu      sync.Mutex
	since   map[types.UID]time.Time
	backoff workqueue.TypedRateLimiter[types.UID]
}

func newRetries() *retries {
	return &retries{since: map[types.UID]time.Time{},
		backoff: workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](50*time.Millisecond, 2*time.Minute)}
}

// failing records that a reconcile of uid met an error now, and returns
// since when its errors have lasted.
func (r *retries) failing(uid types.UID, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	since, ok := r.since[uid]
	if !ok {
		since = now
		r.since[uid] = now
	}
	return since
}

// next is how long to wait before the next try.
func (r *retries) next(uid types.UID) time.Duration { return r.backoff.When(uid) }

// heldBy is the wait of a run that render holds with problem: a cluster
// condition (ResourcesUnavailable) ends the error streak, since the
// reconcile itself went through.
func (r *retries) heldBy(ctx context.Context, uid types.UID, problem *render.Problem, now time.Time) time.Duration {
	if problem != nil && !problem.IsError() {
		r.mu.Lock()
		delete(r.since, uid)
		r.mu.Unlock()
	}
	after := r.next(uid)
	if problem != nil {
		logRetry(ctx, problem.Reported(now), "holding the next step", problem, after)
	}
	return after
}

// forget ends both the error streak and the backoff of uid.
func (r *retries) forget(uid types.UID) {
	r.mu.Lock()
	delete(r.since, uid)
	r.mu.Unlock()
	r.backoff.Forget(uid)
}

// logRetry logs a retried failure: as an error once it is reported (the
// seed's log line), else at verbosity 1.
func logRetry(ctx context.Context, reported bool, doing string, err error, after time.Duration) {
	logger := log.FromContext(ctx)
	if reported {
		logger.Error(err, "Failed to reconcile", "phase", doing, "retryAfter", after.String())
		return
	}
	logger.V(1).Info("Retrying", "phase", doing, "error", err.Error(), "retryAfter", after.String())
}

// len is the number of SequentialJobs in an error streak (a metric, see
// Metrics.track).
func (r *retries) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.since)
}
