package kueuetest_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/kueue"
)

// TestAdmissionWithinQuota: a ClusterQueue with quota for one Job's cpu, and
// two suspended Jobs in its LocalQueue. Real Kueue admits one (its Workload
// Admitted, the Job unsuspended) while the other stays suspended, and admits
// the second only once the first has finished: never both at once.
func TestAdmissionWithinQuota(t *testing.T) {
	c := startCluster(t, "admission", kueue.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const ns = "queued"
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateQueue(ctx, c.Kueue.Client, kueue.Queue{
		Namespace: ns, LocalQueue: "steps", ClusterQueue: "one-cpu",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"},
	}); err != nil {
		t.Fatal(err)
	}

	watcher := watchActive(ctx, t, c.Clientset, ns)
	for _, name := range []string{"first", "second"} {
		if _, err := c.Clientset.BatchV1().Jobs(ns).Create(ctx, queuedJob(ns, name, "steps", "1", "3s"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// One is admitted; the other waits, suspended, its Workload pending.
	var admitted, waiting string
	waitFor(ctx, t, "one Job admitted", func() (bool, error) {
		jobs, err := c.Clientset.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		admitted, waiting = "", ""
		for _, j := range jobs.Items {
			if ptr.Deref(j.Spec.Suspend, false) {
				waiting = j.Name
			} else {
				admitted = j.Name
			}
		}
		return admitted != "" && waiting != "", nil
	})
	t.Logf("admitted %s; %s waits", admitted, waiting)
	wl := workloadOf(ctx, t, c, ns, admitted)
	if s, r, m := kueue.Condition(wl, "Admitted"); s != "True" {
		t.Errorf("Workload %s of the running Job %s: Admitted=%s %s: %s", wl.GetName(), admitted, s, r, m)
	}
	wl = workloadOf(ctx, t, c, ns, waiting)
	if s, r, m := kueue.Condition(wl, "QuotaReserved"); s == "True" {
		t.Errorf("Workload %s of the waiting Job %s reserved quota beyond cpu: 1 (%s: %s)", wl.GetName(), waiting, r, m)
	}

	// Then both run to completion, one after the other.
	for _, name := range []string{admitted, waiting} {
		waitFor(ctx, t, name+" Complete", func() (bool, error) {
			j, err := c.Clientset.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return jobCondition(j, batchv1.JobComplete), nil
		})
	}
	first, err := c.Clientset.BatchV1().Jobs(ns).Get(ctx, admitted, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Clientset.BatchV1().Jobs(ns).Get(ctx, waiting, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Status.StartTime.Before(first.Status.CompletionTime) {
		t.Errorf("%s started at %s, before %s completed at %s: quota for one exceeded",
			waiting, second.Status.StartTime, admitted, first.Status.CompletionTime)
	}
	if peak := watcher.stop(); peak != 1 {
		t.Errorf("at most %d unsuspended, unfinished Jobs at once; want exactly 1 (quota cpu: 1)", peak)
	}
	if err := c.Kueue.Healthy(); err != nil {
		t.Error(err)
	}
}

// TestWebhooksServed: the apiserver calls Kueue's webhooks on 127.0.0.1
// with the seeded certificate. Its mutating webhook suspends a queued Job
// created unsuspended; its validating webhook rejects a queue name that is
// a valid label value but no valid LocalQueue name (the apiserver alone
// would accept both).
func TestWebhooksServed(t *testing.T) {
	c := startCluster(t, "webhooks", kueue.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

	job := queuedJob(metav1.NamespaceDefault, "unsuspended", "steps", "1", "1s")
	job.Spec.Suspend = ptr.To(false)
	got, err := c.Clientset.BatchV1().Jobs(job.Namespace).Create(ctx, job, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	if !ptr.Deref(got.Spec.Suspend, false) {
		t.Error("Kueue's mutating webhook did not suspend a Job created unsuspended in a queue")
	}

	job = queuedJob(metav1.NamespaceDefault, "bad-queue", "Not_A_Queue", "1", "1s")
	_, err = c.Clientset.BatchV1().Jobs(job.Namespace).Create(ctx, job, dryRun)
	if err == nil || !strings.Contains(err.Error(), "vjob.kb.io") {
		t.Errorf("Job in queue Not_A_Queue: got error %v, want a denial by Kueue's webhook vjob.kb.io", err)
	} else {
		t.Logf("denied as expected: %v", err)
	}
}

// queuedJob is a Job as Kueue wants it without its mutating webhook:
// created suspended, in a LocalQueue, with requests to admit by.
func queuedJob(ns, name, queue, cpu, duration string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{kueue.QueueNameLabel: queue}},
		Spec: batchv1.JobSpec{
			Suspend:      ptr.To(true),
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annotationDuration: duration}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "main", Image: "busybox",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
					}},
				},
			},
		},
	}
}

// workloadOf returns the Workload Kueue created for a Job (owned by it).
func workloadOf(ctx context.Context, t *testing.T, c *testCluster, ns, job string) *unstructured.Unstructured {
	t.Helper()
	j, err := c.Clientset.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var found *unstructured.Unstructured
	waitFor(ctx, t, "the Workload of "+job, func() (bool, error) {
		found, err = findOwned(ctx, c.Kueue.Client, ns, j.UID)
		return found != nil, err
	})
	return found
}

func findOwned(ctx context.Context, c client.Client, ns string, owner types.UID) (*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(kueue.GVK("WorkloadList"))
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range list.Items {
		for _, ref := range list.Items[i].GetOwnerReferences() {
			if ref.UID == owner {
				return &list.Items[i], nil
			}
		}
	}
	return nil, nil
}

// activeWatcher polls the namespace's Jobs and records the most that were
// unsuspended and unfinished at once.
type activeWatcher struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	peak   int
}

func watchActive(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) *activeWatcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &activeWatcher{cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		_ = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			n := 0
			for _, j := range jobs.Items {
				if !ptr.Deref(j.Spec.Suspend, false) && !jobCondition(&j, batchv1.JobComplete) && !jobCondition(&j, batchv1.JobFailed) {
					n++
				}
			}
			w.peak = max(w.peak, n)
			return false, nil
		})
	}()
	return w
}

func (w *activeWatcher) stop() int {
	w.cancel()
	w.wg.Wait()
	return w.peak
}

func jobCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// waitFor polls cond every 200ms until it holds, failing the test at ctx's
// deadline with what it waited for.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}

// TestQueueExample: examples/kueue/queues.yaml applies on a real Kueue (its
// webhooks included) and gives an Active LocalQueue that admits a Job. The
// Job is controlled by an object of a kind Kueue does not integrate (a
// ConfigMap here, a SequentialJob for a step): Kueue still queues it as a
// top-level Job of its own.
func TestQueueExample(t *testing.T) {
	c := startCluster(t, "example", kueue.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	objs, err := kueue.ApplyFile(ctx, c.Kueue.Client, filepath.Join(repoRoot(), "examples", "kueue", "queues.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "ResourceFlavor" {
			continue // it has no status
		}
		if err := kueue.WaitCondition(ctx, c.Kueue.Client, o, "Active", time.Minute); err != nil {
			t.Error(err)
		}
	}
	owner, err := c.Clientset.CoreV1().ConfigMaps(metav1.NamespaceDefault).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job := queuedJob(metav1.NamespaceDefault, "example", "user-queue", "100m", "1s")
	job.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}
	if job, err = c.Clientset.BatchV1().Jobs(job.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the Job Complete through user-queue", func() (bool, error) {
		j, err := c.Clientset.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		return err == nil && jobCondition(j, batchv1.JobComplete), err
	})
	wl := workloadOf(ctx, t, c, job.Namespace, job.Name)
	if s, r, m := kueue.Condition(wl, "Admitted"); s != "True" {
		t.Errorf("Workload %s of the owned Job: Admitted=%s %s: %s; want True (it ran through Kueue)", wl.GetName(), s, r, m)
	}
}
