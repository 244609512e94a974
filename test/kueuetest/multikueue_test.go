package kueuetest_test

import (
	"context"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"example.com/sequentialjob/test/kueuetest"
)

// TestMultiKueueRunsOnWorker: two local clusters, each with its own Kueue.
// The manager's ClusterQueue requires MultiKueue's AdmissionCheck, whose
// MultiKueueCluster is the worker. A Job created on the manager with
// spec.managedBy kueue.x-k8s.io/multikueue runs on the worker (a copy
// without managedBy, run by the worker's Kueue and Job controller), never
// on the manager, and the manager's Job ends with the worker's status.
func TestMultiKueueRunsOnWorker(t *testing.T) {
	manager := startCluster(t, "manager", kueuetest.Options{})
	worker := startCluster(t, "worker", kueuetest.Options{})
	// Cleanups run last-in first-out: stop the manager's Kueue before the
	// worker's apiserver, which otherwise waits (30s) for its open watches.
	t.Cleanup(func() { _ = manager.Kueue.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	begin := time.Now()

	// MultiKueue puts the copy in the same namespace and LocalQueue on the
	// worker: both clusters need them.
	const ns, queue = "dispatched", "steps"
	for _, c := range []*testCluster{manager, worker} {
		if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := kueuetest.CreateQueue(ctx, worker.Kueue.Client, kueuetest.Queue{
		Namespace: ns, LocalQueue: queue, ClusterQueue: "worker-cq",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"},
	}); err != nil {
		t.Fatal(err)
	}
	workerKubeconfig, err := os.ReadFile(worker.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := kueuetest.CreateMultiKueue(ctx, manager.Kueue.Client, kueuetest.MultiKueue{
		Name: "multikueue", Workers: map[string][]byte{"worker": workerKubeconfig},
	}); err != nil {
		t.Fatal(err)
	}
	if err := kueuetest.CreateQueue(ctx, manager.Kueue.Client, kueuetest.Queue{
		Namespace: ns, LocalQueue: queue, ClusterQueue: "manager-cq",
		Quota:           map[corev1.ResourceName]string{corev1.ResourceCPU: "1"},
		AdmissionChecks: []string{"multikueue"},
	}); err != nil {
		t.Fatal(err)
	}

	t.Logf("MultiKueue connected and queues active in %s", time.Since(begin).Round(100*time.Millisecond))
	begin = time.Now()
	job := queuedJob(ns, "remote", queue, "1", "3s")
	job.Spec.ManagedBy = ptr.To(kueuetest.MultiKueueControllerName)
	if _, err := manager.Clientset.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// MultiKueue deletes the worker's copy once the manager's Workload has
	// finished: look at it while it is there.
	var remote *batchv1.Job
	waitFor(ctx, t, "the Job Complete on the worker", func() (bool, error) {
		remote, err = worker.Clientset.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return jobCondition(remote, batchv1.JobComplete), nil
	})
	t.Logf("Job complete on the worker %s after its creation on the manager", time.Since(begin).Round(100*time.Millisecond))
	var mirrored *batchv1.Job
	waitFor(ctx, t, "the worker's status mirrored to the manager's Job", func() (bool, error) {
		mirrored, err = manager.Clientset.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return jobCondition(mirrored, batchv1.JobComplete), nil
	})
	t.Logf("status mirrored to the manager %s after creation", time.Since(begin).Round(100*time.Millisecond))
	if mirrored.Status.Succeeded != 1 {
		t.Errorf("manager's Job status.succeeded = %d, want 1 (the worker's)", mirrored.Status.Succeeded)
	}
	if remote.Spec.ManagedBy != nil {
		t.Errorf("worker's copy has managedBy %q; want none, so that the worker's Job controller runs it", *remote.Spec.ManagedBy)
	}
	pods, err := manager.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d pods on the manager; a MultiKueue Job must run only on the worker", len(pods.Items))
	}
	for _, c := range []*testCluster{manager, worker} {
		if err := c.Kueue.Healthy(); err != nil {
			t.Error(err)
		}
	}
}
