package reconciler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// TestExpectations: a reconcile decides on the cache only once the cache
// shows the controller's own writes; it waits until then, and reads live
// once it has waited too long.
func TestExpectations(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sj := func(rv string) *v1alpha1.SequentialJob {
		return &v1alpha1.SequentialJob{ObjectMeta: metav1.ObjectMeta{UID: "uid", ResourceVersion: rv}}
	}
	job := func(name string, finalizers ...string) batchv1.Job {
		return batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers}}
	}
	cases := map[string]struct {
		reason  string
		write   func(e *expectations)
		cached  *v1alpha1.SequentialJob
		jobs    []batchv1.Job
		elapsed time.Duration
		want    verdict
		waiting bool
	}{
		"nothing written": {
			reason: "With no write of ours, the cache is all there is.",
			write:  func(*expectations) {}, cached: sj("5"), want: cacheCurrent,
		},
		"status write not yet seen": {
			reason: "The cache shows an older SequentialJob than our last write: wait for its event.",
			write:  func(e *expectations) { e.wroteSequentialJob("uid", "10") }, cached: sj("9"), want: cacheBehind, waiting: true,
		},
		"status write seen": {
			reason: "Our write, or a later one, is in the cache.",
			write:  func(e *expectations) { e.wroteSequentialJob("uid", "10") }, cached: sj("12"), want: cacheCurrent,
		},
		"created Job not yet seen": {
			reason: "A Job we created is not in the cache yet: wait, or render would start its step again.",
			write:  func(e *expectations) { e.createdJob("uid", "run-1") }, cached: sj("12"), jobs: []batchv1.Job{job("run-0")}, want: cacheBehind, waiting: true,
		},
		"created Job seen": {
			reason: "The Job we created is in the cache.",
			write:  func(e *expectations) { e.createdJob("uid", "run-1") }, cached: sj("12"), jobs: []batchv1.Job{job("run-1")}, want: cacheCurrent,
		},
		"waited too long": {
			reason: "An event that never comes (a Job deleted before the informer saw it) must not hold the run: read live.",
			write:  func(e *expectations) { e.createdJob("uid", "run-1") }, cached: sj("12"), elapsed: expectationTimeout + time.Second, want: cacheStale,
		},
		"unparsable resourceVersion": {
			reason: "A resourceVersion that is not a number cannot be compared: never trust the cache over it.",
			write:  func(e *expectations) { e.wroteSequentialJob("uid", "10") }, cached: sj("abc"), want: cacheBehind, waiting: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			clock := now
			e := newExpectations(func() time.Time { return clock })
			tc.write(e)
			clock = clock.Add(tc.elapsed)
			assert.Equal(t, tc.want, e.check(tc.cached, tc.jobs), tc.reason)
			assert.Equal(t, tc.waiting, e.isWaiting("uid"), "waiting: %s", tc.reason)
		})
	}

	t.Run("a cache behind a live read is not trusted", func(t *testing.T) {
		// The regression behind make chaos's repeated events: once the
		// timeout sent a reconcile to read live, the next one trusted a
		// cache still showing the status from before our write.
		clock := now
		e := newExpectations(func() time.Time { return clock })
		e.wroteSequentialJob("uid", "10")
		e.createdJob("uid", "run-1")
		clock = clock.Add(expectationTimeout + time.Second)
		assert.Equal(t, cacheStale, e.check(sj("9"), nil), "waited too long: read live")
		e.readLive(sj("11"))
		assert.Equal(t, cacheBehind, e.check(sj("9"), nil), "the cache still shows the status before our write")
		assert.Equal(t, cacheBehind, e.check(sj("10"), nil), "nor is the cache trusted before it shows what the live read did")
		clock = clock.Add(expectationTimeout + time.Second)
		assert.Equal(t, cacheStale, e.check(sj("9"), nil), "a cache that never catches up is read around, again")
		assert.Equal(t, cacheCurrent, e.check(sj("11"), nil), "the cache caught up; the created Job the live read accounted for is not awaited")
		assert.Empty(t, e.bySJ)
	})

	t.Run("released Jobs are not released twice", func(t *testing.T) {
		e := newExpectations(func() time.Time { return now })
		e.releasedJob("uid", "run-0")
		assert.Empty(t, e.stillReleasing("uid", []string{"run-0"}), "the cache may still show the finalizer")
		e.check(sj("1"), []batchv1.Job{job("run-0")})
		assert.Empty(t, e.bySJ, "once the cache shows the finalizer gone, nothing is remembered")
		assert.Equal(t, []string{"run-0"}, e.stillReleasing("uid", []string{"run-0"}))
	})
}
