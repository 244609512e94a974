package bench

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

var (
	scaleRuns   = flag.Int("scale.runs", 30, "TestScale: SequentialJobs to run (make bench-scale: 5000)")
	scaleSteps  = flag.Int("scale.steps", 3, "TestScale: steps per SequentialJob")
	heapProfile = flag.String("scale.heapprofile", "", "TestScale: write the controller's heap profile, once every run is done, to this file")
)

// TestScale runs many SequentialJobs on envtest with no Job controller: the
// benchmark marks each step's Job complete the moment it sees it, so the
// figures are the controller's. It checks that every run succeeds with one
// Job per step, and prints the time to all done, transitions per second,
// the handoff distribution, and the controller's peak RSS and CPU per step.
func TestScale(t *testing.T) {
	env := testenv.Start(t, "max-requests-inflight", "1000", "max-mutating-requests-inflight", "500")
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 2000, 4000
	c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scale"}}
	require.NoError(t, c.Create(ctx, ns))

	watch, err := cache.New(cfg, cache.Options{Scheme: env.Client.Scheme(), DefaultTransform: cache.TransformStripManagedFields()})
	require.NoError(t, err)
	hand := newHandoffs(ns.Name, sequentialJobStep)
	done := newDoneSet()
	completer := newCompleter(ctx, c, 16)
	jobs, err := watch.GetInformer(ctx, &batchv1.Job{})
	require.NoError(t, err)
	_, err = jobs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { hand.observe(obj); completer.add(obj) },
		UpdateFunc: func(_, obj any) { hand.observe(obj) },
	})
	require.NoError(t, err)
	sjs, err := watch.GetInformer(ctx, &v1alpha1.SequentialJob{})
	require.NoError(t, err)
	_, err = sjs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: done.observe, UpdateFunc: func(_, obj any) { done.observe(obj) },
	})
	require.NoError(t, err)
	go func() { _ = watch.Start(ctx) }()
	require.True(t, watch.WaitForCacheSync(ctx))

	args := strings.Fields(*controllerArgs)
	pprofAddr := freeAddr(t)
	if *heapProfile != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	controller := startController(t, env.Config, args...)
	before := controller.stats(t)

	start := time.Now()
	steps := fixtures.MakeSequentialJob("", "")
	for i := range *scaleSteps {
		steps.Step(fmt.Sprintf("s%d", i), "busybox", "true")
	}
	create := workqueue.ParallelizeUntil
	create(ctx, 16, *scaleRuns, func(i int) {
		sj := steps.Obj()
		sj.Namespace, sj.Name = ns.Name, fmt.Sprintf("run-%05d", i)
		for {
			if err := c.Create(ctx, sj); err == nil || ctx.Err() != nil {
				return
			} else {
				t.Logf("creating %s: %v (retrying)", sj.Name, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	created := time.Since(start)
	require.True(t, done.waitFor(*scaleRuns, 60*time.Minute), "only %d of %d runs finished", done.count(), *scaleRuns)
	elapsed := time.Since(start)
	after := controller.stats(t)
	if *heapProfile != "" {
		require.NoError(t, fetch("http://"+pprofAddr+"/debug/pprof/heap?gc=1", *heapProfile))
	}

	// Nothing lost or doubled: every run succeeded, with one Job per step.
	list := &v1alpha1.SequentialJobList{}
	require.NoError(t, c.List(ctx, list, client.InNamespace(ns.Name)))
	require.Len(t, list.Items, *scaleRuns)
	for _, sj := range list.Items {
		require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, sj.Name)
		require.Equal(t, int32(*scaleSteps), sj.Status.State.Succeeded, sj.Name)
	}
	require.Empty(t, hand.checkOneJobPerStep(*scaleRuns, *scaleSteps), "one Job per step")

	stepCount := *scaleRuns * *scaleSteps
	figure("runs x steps", "%d x %d (envtest, no Job controller; Jobs completed by the benchmark)", *scaleRuns, *scaleSteps)
	figure("created in", "%s", created.Round(time.Millisecond))
	figure("time to all done", "%s", elapsed.Round(time.Millisecond))
	figure("step transitions per second", "%.0f (a start and an end per step)", float64(2*stepCount)/elapsed.Seconds())
	figure("handoff", "%s", summarize(hand.durations()))
	figure("controller CPU per step", "%.2f ms", float64((after.cpu-before.cpu).Microseconds())/1000/float64(stepCount))
	figure("controller peak RSS", "%s (now %s, of which anonymous %s)", mib(after.peak), mib(after.rss), mib(after.anon))
	figure("completer errors", "%d", completer.errors.Load())
	if testing.Verbose() {
		t.Logf("controller log: %s", controller.log)
	}
}

// completer marks Jobs complete through the status subresource, as the Job
// controller would, from a queue fed by the Job informer.
type completer struct {
	queue  workqueue.TypedInterface[*batchv1.Job]
	c      client.Client
	errors atomic.Int64
}

func newCompleter(ctx context.Context, c client.Client, workers int) *completer {
	k := &completer{queue: workqueue.NewTyped[*batchv1.Job](), c: c}
	for range workers {
		go k.run(ctx)
	}
	go func() { <-ctx.Done(); k.queue.ShutDown() }()
	return k
}

func (k *completer) add(obj any) {
	if job, ok := obj.(*batchv1.Job); ok && !jobComplete(job) {
		k.queue.Add(job)
	}
}

func (k *completer) run(ctx context.Context) {
	for {
		job, shutdown := k.queue.Get()
		if shutdown {
			return
		}
		for ctx.Err() == nil {
			if err := completeJob(ctx, k.c, job.DeepCopy()); err != nil {
				k.errors.Add(1)
				fresh := &batchv1.Job{}
				if k.c.Get(ctx, client.ObjectKeyFromObject(job), fresh) == nil {
					job = fresh
				}
				continue
			}
			break
		}
		k.queue.Done(job)
	}
}

// completeJob is fixtures.CompleteJob in one status write: the apiserver
// accepts SuccessCriteriaMet and Complete together.
func completeJob(ctx context.Context, c client.Client, job *batchv1.Job) error {
	now := metav1.NewTime(time.Now())
	job.Status.StartTime = &now
	job.Status.CompletionTime = &now
	job.Status.Succeeded = 1
	for _, t := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete} {
		job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue,
			Reason: "CompletionsReached", LastTransitionTime: now, LastProbeTime: now})
	}
	return c.Status().Update(ctx, job)
}

// doneSet counts the SequentialJobs that reached a final phase.
type doneSet struct {
	mu   sync.Mutex
	done map[string]bool
	// when is when each was first seen done.
	when map[string]time.Time
	cond *sync.Cond
}

func newDoneSet() *doneSet {
	d := &doneSet{done: map[string]bool{}, when: map[string]time.Time{}}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *doneSet) observe(obj any) {
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if ok && (sj.Status.Phase == v1alpha1.PhaseSucceeded || sj.Status.Phase == v1alpha1.PhaseFailed) {
		d.mark(sj.Namespace + "/" + sj.Name)
	}
}

func (d *doneSet) mark(key string) {
	now := time.Now()
	d.mu.Lock()
	if !d.done[key] {
		d.when[key] = now
	}
	d.done[key] = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

// doneAt is when key was first seen done.
func (d *doneSet) doneAt(key string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.when[key]
	return at, ok
}

func (d *doneSet) count() int { return d.countPrefix("") }

// countPrefix counts the keys starting with prefix that are done.
func (d *doneSet) countPrefix(prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.countLocked(prefix)
}

func (d *doneSet) countLocked(prefix string) int {
	c := 0
	for k := range d.done {
		if strings.HasPrefix(k, prefix) {
			c++
		}
	}
	return c
}

// waitFor waits until n are done, or gives up after timeout.
func (d *doneSet) waitFor(n int, timeout time.Duration) bool {
	return d.waitForPrefix("", n, timeout)
}

// waitForPrefix waits until n keys starting with prefix are done.
func (d *doneSet) waitForPrefix(prefix string, n int, timeout time.Duration) bool {
	deadline := time.AfterFunc(timeout, d.cond.Broadcast)
	defer deadline.Stop()
	end := time.Now().Add(timeout)
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.countLocked(prefix) < n && time.Now().Before(end) {
		d.cond.Wait()
	}
	return d.countLocked(prefix) >= n
}
