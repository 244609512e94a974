package reconciler

import (
	"slices"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// expectationTimeout is how long a reconcile waits for the cache to show
// this controller's own writes before it reads that SequentialJob live
// (and it waits again, then reads live again, until the cache has caught
// up with what it read). Watch events normally arrive within
// milliseconds; the timeout covers an event that never comes (a Job
// deleted before the informer saw it).
const expectationTimeout = 15 * time.Second

// expectations let a reconcile decide on the cache alone and still read its
// own writes, as the kube Job controller's expectations do: the controller
// remembers what it wrote, and a reconcile whose cache has not caught up
// waits for the watch event that will bring it. Without them, a lagging
// cache would repeat a transition (its event, its metric) or end a step
// whose new Job it has not seen.
//
// A nil *expectations expects nothing: for a Reconciler whose Client reads
// straight from the apiserver, as some tests build it.
//
// They live in memory. A restarted controller starts with none, and needs
// none: its informers' first LIST is a consistent read that holds every
// write of the previous process.
type expectations struct {
	mu    sync.Mutex
	bySJ  map[types.UID]*expected
	clock func() time.Time
}

type expected struct {
	// resourceVersion is that of our last write to the SequentialJob.
	resourceVersion uint64
	// created are the Jobs we created that the cache has not shown yet.
	created map[string]bool
	// released are the Jobs whose step-result finalizer we removed while
	// the cache may still show it.
	released map[string]bool
	since    time.Time
	// waiting is true while a reconcile of this SequentialJob waits for
	// the cache to show our writes.
	waiting bool
}

func newExpectations(clock func() time.Time) *expectations {
	return &expectations{bySJ: map[types.UID]*expected{}, clock: clock}
}

func (e *expectations) get(uid types.UID) *expected {
	x := e.bySJ[uid]
	if x == nil {
		x = &expected{created: map[string]bool{}, released: map[string]bool{}}
		e.bySJ[uid] = x
	}
	x.since = e.clock()
	return x
}

// wroteSequentialJob remembers the resourceVersion our write returned.
func (e *expectations) wroteSequentialJob(uid types.UID, resourceVersion string) {
	rv, err := strconv.ParseUint(resourceVersion, 10, 64)
	if err != nil {
		return // not a number: nothing to compare with, the timeout decides
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(uid)
	x.resourceVersion = max(x.resourceVersion, rv)
}

func (e *expectations) createdJob(uid types.UID, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(uid).created[name] = true
}

func (e *expectations) releasedJob(uid types.UID, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.get(uid).released[name] = true
}

// verdict says whether the cached sj and Jobs hold every write of ours.
type verdict int

const (
	cacheCurrent verdict = iota // decide on the cache
	cacheBehind                 // wait for the watch event
	cacheStale                  // waited too long: read live
)

// check compares the cache with our writes, and forgets what it shows.
func (e *expectations) check(sj *v1alpha1.SequentialJob, jobs []batchv1.Job) verdict {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.bySJ[sj.UID]
	if x == nil {
		return cacheCurrent
	}
	cached, err := strconv.ParseUint(sj.ResourceVersion, 10, 64)
	behind := err != nil || cached < x.resourceVersion
	for name := range x.created {
		if slices.ContainsFunc(jobs, func(j batchv1.Job) bool { return j.Name == name }) {
			delete(x.created, name)
		} else {
			behind = true
		}
	}
	for name := range x.released {
		if job := jobNamed(jobs, name); job == nil || !slices.Contains(job.Finalizers, v1alpha1.FinalizerStepResult) {
			delete(x.released, name)
		}
	}
	switch {
	case !behind:
		x.resourceVersion, x.waiting = 0, false
		if len(x.released) == 0 {
			delete(e.bySJ, sj.UID)
		}
		return cacheCurrent
	case e.clock().Sub(x.since) > expectationTimeout:
		// The caller reads live and calls readLive: what it decides on
		// then is a write of ours too, as far as the cache is concerned.
		x.waiting = false
		return cacheStale
	}
	x.waiting = true
	return cacheBehind
}

// readLive records that a reconcile decided on a live read of sj, because
// the cache had not shown our writes in time. Until the cache holds that
// SequentialJob (or a later one) it is not trusted again: a cache that
// lags longer than expectationTimeout (its watch cut, and re-opened only
// after the reflector's backoff) otherwise showed the next reconcile the
// status from before our writes, and render announced the transitions of
// that status write a second time (the events repeated in make chaos's
// API-faults scenario). The Jobs we created are forgotten: a live read
// showed what exists, and a running step's Job the cache lacks is read
// live anyway (confirmMissingJobs).
func (e *expectations) readLive(sj *v1alpha1.SequentialJob) {
	rv, err := strconv.ParseUint(sj.ResourceVersion, 10, 64)
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(sj.UID)
	if err == nil {
		x.resourceVersion = max(x.resourceVersion, rv)
	}
	clear(x.created)
}

// waiting is true while a reconcile of the SequentialJob waits for the
// cache to show our writes: the watch event of our own status write must
// then wake it.
func (e *expectations) isWaiting(uid types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.bySJ[uid]
	return x != nil && x.waiting
}

// stillReleasing filters out the Jobs whose finalizer we already removed.
func (e *expectations) stillReleasing(uid types.UID, names []string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.bySJ[uid]
	if x == nil {
		return names
	}
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return x.released[n] })
}

func (e *expectations) forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.bySJ, uid)
}

// len is the number of SequentialJobs with an entry (a metric: it must
// follow the runs in progress, see Metrics.track).
func (e *expectations) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.bySJ)
}
