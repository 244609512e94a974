package bench

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/jobset"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

var (
	compareRuns  = flag.Int("compare.runs", 10, "TestCompare: runs per phase, created at once (make bench-compare: 100)")
	compareSteps = flag.Int("compare.steps", 3, "TestCompare: steps per run: a SequentialJob's containers, a JobSet's replicatedJobs")
	comparePod   = flag.String("compare.pod", "1s", "TestCompare: how long each pod runs on the kwok node")
)

// jobSetUser is JobSet's own identity on the local cluster, bound by
// JobSet's shipped ClusterRole: the audit log counts its requests as it
// counts ours.
const jobSetUser = "jobset-controller"

var jobSetGVK = schema.GroupVersionKind{Group: "jobset.x-k8s.io", Version: "v1alpha2", Kind: "JobSet"}

// phaseFigures are what TestCompare prints for one phase.
type phaseFigures struct {
	name        string
	wall        time.Duration
	handoff     distribution
	firstJob    distribution // run created -> its first Job seen
	lastStep    distribution // last Job seen Complete -> run seen done
	cpuPerStep  time.Duration
	after       procStats
	requests    map[string]int
	transitions int
}

// TestCompare runs, on one local cluster, N SequentialJobs of S steps
// (our controller), then N JobSets of S replicatedJobs of one Job each,
// chained by dependsOn (JobSet's manager, built from tools/jobset), then
// our N again, all with kwok pods of the same duration. Per phase it prints
// the wall time, the handoff as an outside watcher sees it (handoff.go,
// the definition TestCluster uses too), the controller's CPU per step and
// RSS, and its API requests per transition from the audit log; then a
// markdown table of the three.
//
// It checks that every run of both controllers succeeds with exactly one
// Job per step; it asserts no figure.
//
// JobSet runs during its own phase only: its webhooks admit every Pod of
// the cluster, and our phases should not pay for them.
func TestCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster, our controller and JobSet's")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir: testenv.BinDir(), DataDir: filepath.Join(t.TempDir(), "cluster"), CRDPath: testenv.CRDPath(),
		AuditUsers: []string{controllerUser, jobSetUser},
	})
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	controller := startClusterController(ctx, t, cluster, c)

	// The outside watcher: one watch on Jobs, one handoffs per phase.
	watch, err := cache.New(cluster.Config, cache.Options{Scheme: scheme.Scheme, DefaultTransform: cache.TransformStripManagedFields()})
	require.NoError(t, err)
	ours1 := newHandoffs("ours-1", sequentialJobStep)
	jobSets := newHandoffs("jobset", jobSetStep)
	ours2 := newHandoffs("ours-2", sequentialJobStep)
	observe := func(obj any) { ours1.observe(obj); jobSets.observe(obj); ours2.observe(obj) }
	jobs, err := watch.GetInformer(ctx, &batchv1.Job{})
	require.NoError(t, err)
	_, err = jobs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: observe, UpdateFunc: func(_, obj any) { observe(obj) },
	})
	require.NoError(t, err)
	done := newDoneSet()
	sjs, err := watch.GetInformer(ctx, &v1alpha1.SequentialJob{})
	require.NoError(t, err)
	_, err = sjs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: done.observe, UpdateFunc: func(_, obj any) { done.observe(obj) }})
	require.NoError(t, err)
	go func() { _ = watch.Start(ctx) }()
	require.True(t, watch.WaitForCacheSync(ctx))

	var phases []phaseFigures
	phases = append(phases, runOurs(ctx, t, cluster, c, controller.Pid(), "ours 1", "ours-1", ours1, done))

	kubeconfig, err := cluster.UserKubeconfig(jobSetUser)
	require.NoError(t, err)
	js, err := jobset.Start(ctx, kubeconfig, cluster.Config, jobset.Options{
		BinDir: testenv.BinDir(), Dir: filepath.Join(t.TempDir(), "jobset"),
		ModuleDir: jobSetModuleDir(ctx, t), User: jobSetUser,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = js.Stop() })
	jsDone := newDoneSet()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(jobSetGVK)
	jsInformer, err := watch.GetInformer(ctx, u)
	require.NoError(t, err)
	observeJobSet := func(obj any) {
		if o, ok := obj.(*unstructured.Unstructured); ok {
			if state, _, _ := unstructured.NestedString(o.Object, "status", "terminalState"); state != "" {
				jsDone.mark(o.GetNamespace() + "/" + o.GetName())
			}
		}
	}
	_, err = jsInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: observeJobSet, UpdateFunc: func(_, obj any) { observeJobSet(obj) }})
	require.NoError(t, err)
	require.True(t, watch.WaitForCacheSync(ctx))
	phases = append(phases, runJobSets(ctx, t, cluster, c, js, jobSets, jsDone))
	require.NoError(t, js.Stop())

	phases = append(phases, runOurs(ctx, t, cluster, c, controller.Pid(), "ours 2", "ours-2", ours2, done))

	fmt.Println()
	fmt.Println(compareTable(phases))
}

// runOurs is one phase of SequentialJobs in namespace ns.
func runOurs(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, pid int, name, ns string, hand *handoffs, done *doneSet) phaseFigures {
	t.Helper()
	template := fixtures.MakeSequentialJob(ns, "").Duration(*comparePod)
	for i := range *compareSteps {
		template.Step(fmt.Sprintf("s%d", i), "busybox", "true")
	}
	p := runPhase(ctx, t, cluster, c, phase{
		name: name, namespace: ns, user: controllerUser, pid: pid, hand: hand,
		create: func(i int) client.Object {
			sj := template.Obj()
			sj.Name = fmt.Sprintf("run-%04d", i)
			return sj
		},
		done: done,
	})
	list := &v1alpha1.SequentialJobList{}
	require.NoError(t, c.List(ctx, list, client.InNamespace(ns)))
	require.Len(t, list.Items, *compareRuns)
	for _, sj := range list.Items {
		require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "%s/%s: %+v", ns, sj.Name, sj.Status)
	}
	return p
}

// runJobSets is the phase of JobSets, in namespace jobset.
func runJobSets(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, js *jobset.JobSet, hand *handoffs, done *doneSet) phaseFigures {
	t.Helper()
	const ns = "jobset"
	p := runPhase(ctx, t, cluster, c, phase{
		name: "JobSet", namespace: ns, user: jobSetUser, pid: js.Pid(), hand: hand,
		create: func(i int) client.Object {
			return chainedJobSet(ns, fmt.Sprintf("run-%04d", i), *compareSteps, *comparePod)
		},
		done: done,
	})
	require.NoError(t, js.Healthy())
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(jobSetGVK.GroupVersion().WithKind("JobSetList"))
	require.NoError(t, c.List(ctx, list, client.InNamespace(ns)))
	require.Len(t, list.Items, *compareRuns)
	for _, o := range list.Items {
		state, _, _ := unstructured.NestedString(o.Object, "status", "terminalState")
		require.Equal(t, "Completed", state, "%s/%s: %v", ns, o.GetName(), o.Object["status"])
	}
	return p
}

// phase is one of TestCompare's three: N runs created at once in
// namespace, waited for until done marks them all, measured on the
// controller process pid and the audited requests of user.
type phase struct {
	name, namespace, user string
	pid                   int
	hand                  *handoffs
	create                func(i int) client.Object
	done                  *doneSet
}

func runPhase(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, p phase) phaseFigures {
	t.Helper()
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace}}))
	before, err := readProc(p.pid)
	require.NoError(t, err)
	start := time.Now()
	var mu sync.Mutex
	created := map[string]time.Time{}
	workqueue.ParallelizeUntil(ctx, 16, *compareRuns, func(i int) {
		obj := p.create(i)
		if assert.NoError(t, c.Create(ctx, obj)) {
			now := time.Now()
			mu.Lock()
			created[obj.GetNamespace()+"/"+obj.GetName()] = now
			mu.Unlock()
		}
	})
	require.False(t, t.Failed())
	require.True(t, p.done.waitForPrefix(p.namespace+"/", *compareRuns, 60*time.Minute),
		"%s: only %d of %d runs finished", p.name, p.done.countPrefix(p.namespace+"/"), *compareRuns)
	wall := time.Since(start)
	after, err := readProc(p.pid)
	require.NoError(t, err)
	// Events and the last status writes follow the end of a run: give them
	// a moment to reach the audit log.
	time.Sleep(2 * time.Second)
	requests, err := auditCounts(cluster.AuditLog(), p.user, start, time.Now())
	require.NoError(t, err)
	require.Empty(t, p.hand.checkOneJobPerStep(*compareRuns, *compareSteps), "%s: one Job per step", p.name)

	steps := *compareRuns * *compareSteps
	f := phaseFigures{name: p.name, wall: wall, handoff: summarize(p.hand.durations()),
		firstJob: summarize(p.hand.firstJobs(created)), lastStep: summarize(p.hand.lastSteps(*compareSteps, p.done.doneAt)),
		cpuPerStep: (after.cpu - before.cpu) / time.Duration(steps), after: after, requests: requests, transitions: 2 * steps}
	figure(p.name+": runs x steps", "%d x %d, pods of %s", *compareRuns, *compareSteps, *comparePod)
	figure(p.name+": wall, all done", "%s", wall.Round(time.Millisecond))
	figure(p.name+": handoff (outside watcher)", "%s", f.handoff)
	figure(p.name+": created -> first Job", "%s", f.firstJob)
	figure(p.name+": last Job Complete -> run done", "%s", f.lastStep)
	figure(p.name+": controller CPU per step", "%s", msPrecise(f.cpuPerStep))
	figure(p.name+": controller RSS", "%s (peak %s; anonymous %s)", mib(after.rss), mib(after.peak), mib(after.anon))
	for _, k := range sortedKeys(requests) {
		figure(p.name+": per transition: "+k, "%.2f (%d for %d step transitions)", float64(requests[k])/float64(f.transitions), requests[k], f.transitions)
	}
	return f
}

// chainedJobSet is a JobSet of steps replicatedJobs of one Job of one pod
// each, step-<i> depending on step-<i-1> being Complete: JobSet's way of
// running steps in sequence. Everything else is JobSet's defaults, as a new
// user would write it.
func chainedJobSet(namespace, name string, steps int, pod string) *unstructured.Unstructured {
	var rjobs []any
	for i := range steps {
		rjob := map[string]any{
			"name":     fmt.Sprintf("%s%d", jobSetStepPrefix, i),
			"replicas": int64(1),
			"template": map[string]any{"spec": map[string]any{
				"parallelism": int64(1), "completions": int64(1),
				"template": map[string]any{
					"metadata": map[string]any{"annotations": map[string]any{localcluster.AnnotationDuration: pod}},
					"spec": map[string]any{
						"restartPolicy": "Never",
						"containers":    []any{map[string]any{"name": "step", "image": "busybox", "command": []any{"true"}}},
					},
				},
			}},
		}
		if i > 0 {
			rjob["dependsOn"] = []any{map[string]any{"name": fmt.Sprintf("%s%d", jobSetStepPrefix, i-1), "status": "Complete"}}
		}
		rjobs = append(rjobs, rjob)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicatedJobs": rjobs}}}
	u.SetGroupVersionKind(jobSetGVK)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// jobSetModuleDir is the JobSet module that tools/jobset pins, the source
// of bin/jobset.
func jobSetModuleDir(ctx context.Context, t *testing.T) string {
	t.Helper()
	dir, err := jobset.ModuleDir(ctx, filepath.Join(testenv.Root(), "tools", "jobset"))
	require.NoError(t, err)
	return dir
}

// requestClass sums the audited requests of a phase: all, reads (get,
// list) and writes (the rest; watches are not counted).
func requestClass(requests map[string]int) (all, reads, writes int) {
	for k, n := range requests {
		all += n
		verb, _, _ := strings.Cut(k, " ")
		if verb == "get" || verb == "list" {
			reads += n
		} else {
			writes += n
		}
	}
	return all, reads, writes
}

// compareTable is the phases side by side, as markdown.
func compareTable(phases []phaseFigures) string {
	var b strings.Builder
	b.WriteString("| figure |")
	for _, p := range phases {
		fmt.Fprintf(&b, " %s |", p.name)
	}
	b.WriteString("\n|---|")
	for range phases {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(name string, cell func(p phaseFigures) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, p := range phases {
			fmt.Fprintf(&b, " %s |", cell(p))
		}
		b.WriteString("\n")
	}
	perTransition := func(n int, p phaseFigures) string {
		return fmt.Sprintf("%.2f", float64(n)/float64(p.transitions))
	}
	row(fmt.Sprintf("wall, %d × %d all done", *compareRuns, *compareSteps), func(p phaseFigures) string { return fmt.Sprintf("%.1f s", p.wall.Seconds()) })
	row("handoff p50", func(p phaseFigures) string { return msCell(p.handoff.p50) })
	row("handoff p90", func(p phaseFigures) string { return msCell(p.handoff.p90) })
	row("handoff p99", func(p phaseFigures) string { return msCell(p.handoff.p99) })
	row("handoff max", func(p phaseFigures) string { return msCell(p.handoff.max) })
	row("handoffs seen", func(p phaseFigures) string { return fmt.Sprint(p.handoff.n) })
	row("run created → first Job p50 / max", func(p phaseFigures) string { return msCell(p.firstJob.p50) + " / " + msCell(p.firstJob.max) })
	row("last Job Complete → run done p50 / max", func(p phaseFigures) string { return msCell(p.lastStep.p50) + " / " + msCell(p.lastStep.max) })
	row("controller CPU per step", func(p phaseFigures) string { return msPrecise(p.cpuPerStep) })
	row("controller RSS (peak)", func(p phaseFigures) string { return fmt.Sprintf("%s (%s)", mib(p.after.rss), mib(p.after.peak)) })
	row("API requests per transition", func(p phaseFigures) string { all, _, _ := requestClass(p.requests); return perTransition(all, p) })
	row("… reads (get, list)", func(p phaseFigures) string { _, reads, _ := requestClass(p.requests); return perTransition(reads, p) })
	row("… writes", func(p phaseFigures) string { _, _, writes := requestClass(p.requests); return perTransition(writes, p) })
	return b.String()
}

func msPrecise(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func msCell(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
