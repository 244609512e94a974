package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

var (
	clusterRuns  = flag.Int("cluster.runs", 10, "TestCluster: SequentialJobs (and baseline Jobs) at once (make bench-cluster: 100)")
	clusterSteps = flag.Int("cluster.steps", 3, "TestCluster: steps per SequentialJob")
	clusterPod   = flag.String("cluster.pod", "1s", "TestCluster: how long each pod runs on the kwok node")
	cpuProfile   = flag.String("cluster.cpuprofile", "", "TestCluster: write the controller's CPU profile of the first 30s of the SequentialJob phase to this file, and its heap profile at the end to FILE.heap")
)

// controllerUser is the controller's own identity on the local cluster,
// bound by the shipped ClusterRole only: the audit log tells its requests
// apart, and the benchmark proves the shipped RBAC suffices.
const controllerUser = "sequentialjob-controller"

// TestCluster measures the controller on the local cluster (real Job
// controller, kwok pods): a baseline of bare Jobs created at once, then as
// many SequentialJobs, with the wall time against 3x the baseline, the
// handoff distribution, the controller's CPU per step and RSS, and its API
// requests per step transition by verb, from the apiserver's audit log.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir: testenv.BinDir(), DataDir: filepath.Join(t.TempDir(), "cluster"), CRDPath: testenv.CRDPath(),
		AuditUsers: []string{controllerUser},
	})
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)

	pprofAddr := freeAddr(t)
	var extra []string
	if *cpuProfile != "" {
		extra = append(extra, "--pprof-bind-address="+pprofAddr)
	}
	controller := startClusterController(ctx, t, cluster, c, extra...)
	idle, err := readProc(controller.Pid())
	require.NoError(t, err)

	watch, err := cache.New(cluster.Config, cache.Options{Scheme: scheme.Scheme, DefaultTransform: cache.TransformStripManagedFields()})
	require.NoError(t, err)
	hand := newHandoffs("runs", sequentialJobStep)
	baseline := newCompleteCounter()
	jobs, err := watch.GetInformer(ctx, &batchv1.Job{})
	require.NoError(t, err)
	_, err = jobs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { hand.observe(obj); baseline.observe(obj) },
		UpdateFunc: func(_, obj any) { hand.observe(obj); baseline.observe(obj) },
	})
	require.NoError(t, err)
	done := newDoneSet()
	sjs, err := watch.GetInformer(ctx, &v1alpha1.SequentialJob{})
	require.NoError(t, err)
	_, err = sjs.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: done.observe, UpdateFunc: func(_, obj any) { done.observe(obj) }})
	require.NoError(t, err)
	go func() { _ = watch.Start(ctx) }()
	require.True(t, watch.WaitForCacheSync(ctx))

	// The baseline: as many bare Jobs, one pod each, created at once.
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "baseline"}}))
	start := time.Now()
	workqueue.ParallelizeUntil(ctx, 16, *clusterRuns, func(i int) {
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "baseline", Name: fmt.Sprintf("job-%04d", i)},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{localcluster.AnnotationDuration: *clusterPod}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "step", Image: "busybox"}}}}}}
		assert.NoError(t, c.Create(ctx, job))
	})
	require.False(t, t.Failed())
	require.True(t, baseline.waitFor("baseline", *clusterRuns, 30*time.Minute), "the baseline Jobs never all completed")
	baselineTime := time.Since(start)

	// The SequentialJobs, as many, created at once.
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "runs"}}))
	before, err := readProc(controller.Pid())
	require.NoError(t, err)
	template := fixtures.MakeSequentialJob("runs", "").Duration(*clusterPod)
	for i := range *clusterSteps {
		template.Step(fmt.Sprintf("s%d", i), "busybox", "true")
	}
	start = time.Now()
	profiled := profileCPU(t, pprofAddr)
	workqueue.ParallelizeUntil(ctx, 16, *clusterRuns, func(i int) {
		sj := template.Obj()
		sj.Name = fmt.Sprintf("run-%04d", i)
		assert.NoError(t, c.Create(ctx, sj))
	})
	require.False(t, t.Failed())
	require.True(t, done.waitFor(*clusterRuns, 60*time.Minute), "only %d of %d runs finished", done.count(), *clusterRuns)
	runsTime := time.Since(start)
	after, err := readProc(controller.Pid())
	require.NoError(t, err)
	profiled()
	// Events are recorded after the status that ends a run: give the last
	// ones a moment to reach the audit log.
	time.Sleep(2 * time.Second)
	end := time.Now()

	list := &v1alpha1.SequentialJobList{}
	require.NoError(t, c.List(ctx, list, client.InNamespace("runs")))
	for _, sj := range list.Items {
		require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase, "%s: %+v", sj.Name, sj.Status)
	}
	require.Empty(t, hand.checkOneJobPerStep(*clusterRuns, *clusterSteps), "one Job per step")

	steps := *clusterRuns * *clusterSteps
	transitions := 2 * steps
	figure("runs x steps", "%d x %d, pods of %s (local cluster: Job controller, kwok)", *clusterRuns, *clusterSteps, *clusterPod)
	figure("baseline: bare Jobs, all Complete", "%s", baselineTime.Round(time.Millisecond))
	figure("SequentialJobs, all Succeeded", "%s (%.2fx of 3x the baseline)", runsTime.Round(time.Millisecond),
		runsTime.Seconds()/(float64(*clusterSteps)*baselineTime.Seconds()))
	figure("handoff", "%s", summarize(hand.durations()))
	figure("controller CPU per step", "%.2f ms", float64((after.cpu-before.cpu).Microseconds())/1000/float64(steps))
	figure("controller RSS", "%s (peak %s; anonymous %s; %s idle before the runs)", mib(after.rss), mib(after.peak), mib(after.anon), mib(idle.rss))
	counts, err := auditCounts(cluster.AuditLog(), controllerUser, start, end)
	require.NoError(t, err)
	for _, k := range sortedKeys(counts) {
		figure("requests per transition: "+k, "%.2f (%d for %d step transitions)", float64(counts[k])/float64(transitions), counts[k], transitions)
	}
}

// startClusterController runs the controller built from the checkout (or
// -controller) on the local cluster as it runs in a cluster: as its own
// user, controllerUser, bound by the shipped ClusterRole only, with
// -controller.args and extra after the defaults.
func startClusterController(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, extra ...string) *localcluster.Process {
	t.Helper()
	kubeconfig := testenv.ShippedRoleKubeconfig(ctx, t, cluster, c, controllerUser)
	args := append(append([]string{"--kubeconfig=" + kubeconfig}, strings.Fields(*controllerArgs)...), extra...)
	controller, err := cluster.StartController(ctx, localcluster.ControllerOptions{Path: controllerPath(t), Args: args})
	require.NoError(t, err)
	return controller
}

// profileCPU starts a 30-second CPU profile of the controller when
// -cluster.cpuprofile is set; the returned function waits for it and
// writes the file.
func profileCPU(t *testing.T, addr string) func() {
	if *cpuProfile == "" {
		return func() {}
	}
	type result struct {
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=30")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }() // read side: nothing is lost
		data, err := io.ReadAll(resp.Body)
		got <- result{data, err}
	}()
	return func() {
		select {
		case r := <-got:
			if assert.NoError(t, r.err) {
				assert.NoError(t, os.WriteFile(*cpuProfile, r.data, 0o644))
			}
		case <-time.After(time.Minute):
			t.Error("no CPU profile")
		}
		// And the heap, at the end of the runs, next to it.
		assert.NoError(t, fetch("http://"+addr+"/debug/pprof/heap", *cpuProfile+".heap"))
	}
}

// fetch writes what url returns to path.
func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read side: nothing is lost
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// completeCounter counts the Complete Jobs per namespace.
type completeCounter struct{ *doneSet }

func newCompleteCounter() completeCounter { return completeCounter{newDoneSet()} }

func (c completeCounter) observe(obj any) {
	if job, ok := obj.(*batchv1.Job); ok && jobComplete(job) {
		c.mark(job.Namespace + "/" + job.Name)
	}
}

// waitFor waits until n Jobs of namespace ns are Complete.
func (c completeCounter) waitFor(ns string, n int, timeout time.Duration) bool {
	return c.waitForPrefix(ns+"/", n, timeout)
}

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	ObjectRef  *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// auditCounts counts user's audited requests received between from and to,
// by verb and resource; dry-runs and applies are told apart, watches not
// counted.
func auditCounts(path, user string, from, to time.Time) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read side: nothing is lost
	out := map[string]int{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var e auditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return nil, err
		}
		if e.User.Username != user || e.RequestReceivedTimestamp.Before(from) || e.RequestReceivedTimestamp.After(to) || e.Verb == "watch" {
			continue
		}
		key := e.Verb
		if e.ObjectRef != nil {
			key += " " + e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				key += "/" + e.ObjectRef.Subresource
			}
		}
		switch {
		case strings.Contains(e.RequestURI, "dryRun="):
			key += " (dry-run)"
		case e.Verb == "patch" && strings.Contains(e.RequestURI, "force=true"):
			key += " (apply)"
		}
		out[key]++
	}
	return out, scanner.Err()
}

func sortedKeys(m map[string]int) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
