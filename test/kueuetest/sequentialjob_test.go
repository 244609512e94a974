package kueuetest_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/kueue"
)

// SequentialJobs through a real Kueue: each step's Job is its own workload,
// admitted when its queue has quota.

// TestStepsShareAQueue: a ClusterQueue with quota for one step (cpu: 1),
// two SequentialJobs of three steps each in it. Their steps interleave
// through the queue, never more than one runs at a time (the quota), each
// waits Queued until admitted, and both runs end Succeeded with the seed's
// status.
func TestStepsShareAQueue(t *testing.T) {
	c := startCluster(t, "queue", kueue.Options{})
	c.runSequentialJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	k8s := sequentialJobClient(t, c)

	const ns, queue = "team", "steps"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateQueue(ctx, c.Kueue.Client, kueue.Queue{Namespace: ns, LocalQueue: queue, ClusterQueue: "one-step",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}}); err != nil {
		t.Fatal(err)
	}
	watch := watchActive(ctx, t, c.Clientset, ns)
	phases := watchPhases(ctx, k8s, ns)
	for _, name := range []string{"first", "second"} {
		if err := k8s.Create(ctx, queuedSequentialJob(ns, name, queue, "a", "b", "c")); err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range []string{"first", "second"} {
		sj := &v1alpha1.SequentialJob{}
		waitFor(ctx, t, name+" to finish", func() (bool, error) {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sj)
			return err == nil && (sj.Status.Phase == v1alpha1.PhaseSucceeded || sj.Status.Phase == v1alpha1.PhaseFailed), err
		})
		if sj.Status.Phase != v1alpha1.PhaseSucceeded || sj.Status.Progress.Summary != "3/3" {
			t.Fatalf("%s: %s %s, status %+v", name, sj.Status.Phase, sj.Status.Progress.Summary, sj.Status)
		}
	}
	if peak := watch.stop(); peak != 1 {
		t.Errorf("%d step Jobs ran at once; the quota allows one", peak)
	}
	seen := phases.stop()
	for _, name := range []string{"first", "second"} {
		if !slices.Contains(seen[name], v1alpha1.PhaseQueued) {
			t.Errorf("%s was never seen Queued: %v", name, seen[name])
		}
	}

	// The steps interleaved: the Jobs, by creation, are not all of one run
	// and then all of the other.
	jobs := &batchv1.JobList{}
	if err := k8s.List(ctx, jobs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(jobs.Items, func(a, b batchv1.Job) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	var owners []string
	for _, j := range jobs.Items {
		owners = append(owners, j.Labels[v1alpha1.LabelSequentialJob])
		if j.Labels[v1alpha1.LabelQueueName] != queue {
			t.Errorf("Job %s is not in queue %s: %v", j.Name, queue, j.Labels)
		}
	}
	if len(owners) != 6 {
		t.Fatalf("want 6 step Jobs, got %v", owners)
	}
	if slices.Equal(owners, []string{"first", "first", "first", "second", "second", "second"}) ||
		slices.Equal(owners, []string{"second", "second", "second", "first", "first", "first"}) {
		t.Errorf("the runs did not interleave through the queue: %v", owners)
	}
}

// TestMultiKueueRunsEachStepOnTheWorker: a manager and a worker cluster,
// each with its Kueue; a SequentialJob on the manager, with
// spec.jobManagedBy kueue.x-k8s.io/multikueue, has each step run on the
// worker, follows the status MultiKueue mirrors back, and ends with the
// seed's status on the manager.
func TestMultiKueueRunsEachStepOnTheWorker(t *testing.T) {
	manager := startCluster(t, "manager", kueue.Options{})
	worker := startCluster(t, "worker", kueue.Options{})
	t.Cleanup(func() { _ = manager.Kueue.Stop() })
	manager.runSequentialJobs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const ns, queue = "dispatched", "steps"
	for _, c := range []*testCluster{manager, worker} {
		if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := kueue.CreateQueue(ctx, worker.Kueue.Client, kueue.Queue{Namespace: ns, LocalQueue: queue, ClusterQueue: "worker-cq",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}}); err != nil {
		t.Fatal(err)
	}
	workerKubeconfig, err := os.ReadFile(worker.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateMultiKueue(ctx, manager.Kueue.Client, kueue.MultiKueue{Name: "multikueue", Workers: map[string][]byte{"worker": workerKubeconfig}}); err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateQueue(ctx, manager.Kueue.Client, kueue.Queue{Namespace: ns, LocalQueue: queue, ClusterQueue: "manager-cq",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"}, AdmissionChecks: []string{"multikueue"}}); err != nil {
		t.Fatal(err)
	}

	k8s := sequentialJobClient(t, manager)
	sj := queuedSequentialJob(ns, "remote", queue, "fetch", "build")
	sj.Spec.JobManagedBy = v1alpha1.ManagedByMultiKueue
	if err := k8s.Create(ctx, sj); err != nil {
		t.Fatal(err)
	}
	workerSteps := map[string]bool{}
	waitFor(ctx, t, "the run to finish on the manager", func() (bool, error) {
		// Each step's copy runs on the worker while MultiKueue keeps it.
		jobs, err := worker.Clientset.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, j := range jobs.Items {
			workerSteps[j.Labels[v1alpha1.LabelStepName]] = true
		}
		err = k8s.Get(ctx, client.ObjectKeyFromObject(sj), sj)
		return err == nil && (sj.Status.Phase == v1alpha1.PhaseSucceeded || sj.Status.Phase == v1alpha1.PhaseFailed), err
	})
	if sj.Status.Phase != v1alpha1.PhaseSucceeded || sj.Status.Progress.Summary != "2/2" {
		t.Fatalf("status on the manager: %+v", sj.Status)
	}
	for _, step := range []string{"fetch", "build"} {
		if !workerSteps[step] {
			t.Errorf("step %s was never seen on the worker (seen: %v)", step, workerSteps)
		}
	}
	pods, err := manager.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods ran on the manager; MultiKueue runs the steps on the worker", len(pods.Items))
	}
	for _, step := range sj.Status.Steps {
		if step.Result != "" || !containsAll(step.Message, "kueue.x-k8s.io/multikueue", "no result") {
			t.Errorf("step %s: want no result and a message saying why, got %q / %q", step.Name, step.Result, step.Message)
		}
	}
}

// queuedSequentialJob is a SequentialJob in LocalQueue queue whose steps
// each request one CPU and run 2s on the kwok node.
func queuedSequentialJob(ns, name, queue string, steps ...string) *v1alpha1.SequentialJob {
	sj := &v1alpha1.SequentialJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{v1alpha1.LabelQueueName: queue}}}
	for _, s := range steps {
		sj.Spec.Containers = append(sj.Spec.Containers, corev1.Container{Name: s, Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}})
	}
	sj.Spec.BackoffLimit = ptr.To[int32](0)
	sj.Spec.Template.Annotations = map[string]string{annotationDuration: "2s"}
	return sj
}

func sequentialJobClient(t *testing.T, c *testCluster) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return k8s
}

// phaseWatcher polls the SequentialJobs of a namespace and records the
// phases each went through.
type phaseWatcher struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   map[string][]v1alpha1.Phase
}

func watchPhases(ctx context.Context, k8s client.Client, ns string) *phaseWatcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &phaseWatcher{cancel: cancel, seen: map[string][]v1alpha1.Phase{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			list := &v1alpha1.SequentialJobList{}
			if err := k8s.List(ctx, list, client.InNamespace(ns)); err == nil {
				w.mu.Lock()
				for _, sj := range list.Items {
					if p := sj.Status.Phase; p != "" && !slices.Contains(w.seen[sj.Name], p) {
						w.seen[sj.Name] = append(w.seen[sj.Name], p)
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *phaseWatcher) stop() map[string][]v1alpha1.Phase {
	w.cancel()
	w.wg.Wait()
	return w.seen
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
