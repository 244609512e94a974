package kueuetest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"example.com/sequentialjob/internal/kueue"
)

// TestMultiKueueRunsOnWorker: two local clusters, each with its own Kueue.
// The manager's ClusterQueue requires MultiKueue's AdmissionCheck, whose
// MultiKueueCluster is the worker. A Job created on the manager with
// spec.managedBy kueue.x-k8s.io/multikueue runs on the worker (a copy
// without managedBy, run by the worker's Kueue and Job controller), never
// on the manager, and the manager's Job ends with the worker's status,
// Complete or Failed. The worker's copy (and its pods, so their logs and
// termination messages) is deleted once the manager's Workload finishes.
// MultiKueue copies labels and annotations but no owner references, so a
// Job owned on the manager (a step by its SequentialJob) survives on the
// worker.
func TestMultiKueueRunsOnWorker(t *testing.T) {
	manager := startCluster(t, "manager", kueue.Options{})
	worker := startCluster(t, "worker", kueue.Options{})
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
	if err := kueue.CreateQueue(ctx, worker.Kueue.Client, kueue.Queue{
		Namespace: ns, LocalQueue: queue, ClusterQueue: "worker-cq",
		Quota: map[corev1.ResourceName]string{corev1.ResourceCPU: "1"},
	}); err != nil {
		t.Fatal(err)
	}
	workerKubeconfig, err := os.ReadFile(worker.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateMultiKueue(ctx, manager.Kueue.Client, kueue.MultiKueue{
		Name: "multikueue", Workers: map[string][]byte{"worker": workerKubeconfig},
	}); err != nil {
		t.Fatal(err)
	}
	if err := kueue.CreateQueue(ctx, manager.Kueue.Client, kueue.Queue{
		Namespace: ns, LocalQueue: queue, ClusterQueue: "manager-cq",
		Quota:           map[corev1.ResourceName]string{corev1.ResourceCPU: "1"},
		AdmissionChecks: []string{"multikueue"},
	}); err != nil {
		t.Fatal(err)
	}

	t.Logf("MultiKueue connected and queues active in %s", time.Since(begin).Round(100*time.Millisecond))
	begin = time.Now()
	// Quota for one: the two run one after the other.
	ok := queuedJob(ns, "remote-ok", queue, "1", "3s")
	fail := queuedJob(ns, "remote-fail", queue, "1", "1s")
	fail.Spec.Template.Annotations[annotationExitCode] = "3"
	// Controlled on the manager by an object the worker does not have, as a
	// step Job is by its SequentialJob.
	owner, err := manager.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}}
	for _, job := range []*batchv1.Job{ok, fail} {
		job.Spec.ManagedBy = ptr.To(kueue.MultiKueueControllerName)
		if _, err := manager.Clientset.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// MultiKueue deletes the worker's copy once the manager's Workload has
	// finished: look at it while it is there.
	var remote *batchv1.Job
	waitFor(ctx, t, "remote-ok Complete on the worker", func() (bool, error) {
		remote, err = worker.Clientset.BatchV1().Jobs(ns).Get(ctx, ok.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return jobCondition(remote, batchv1.JobComplete), nil
	})
	t.Logf("remote-ok complete on the worker %s after its creation on the manager", time.Since(begin).Round(100*time.Millisecond))
	if len(remote.OwnerReferences) != 0 {
		t.Errorf("worker's copy has owners %v; the worker's garbage collector would delete it", remote.OwnerReferences)
	}
	if remote.Spec.ManagedBy != nil {
		t.Errorf("worker's copy has managedBy %q; want none, so that the worker's Job controller runs it", *remote.Spec.ManagedBy)
	}
	mirrored := waitForJob(ctx, t, manager, ns, ok.Name, batchv1.JobComplete)
	t.Logf("its status mirrored to the manager %s after creation", time.Since(begin).Round(100*time.Millisecond))
	if mirrored.Status.Succeeded != 1 || mirrored.Status.StartTime == nil || mirrored.Status.CompletionTime == nil {
		t.Errorf("manager's %s status: succeeded %d, startTime %v, completionTime %v; want the worker's (1, set, set)",
			ok.Name, mirrored.Status.Succeeded, mirrored.Status.StartTime, mirrored.Status.CompletionTime)
	}
	if ptr.Deref(mirrored.Spec.Suspend, true) {
		t.Errorf("manager's %s still suspended: want it unsuspended once admitted, as for a local Job", ok.Name)
	}

	failed := waitForJob(ctx, t, manager, ns, fail.Name, batchv1.JobFailed)
	if got := jobConditionReason(failed, batchv1.JobFailed); got != batchv1.JobReasonBackoffLimitExceeded || failed.Status.Failed != 1 {
		t.Errorf("manager's %s: Failed reason %q, failed %d; want the worker's %q, 1", fail.Name, got, failed.Status.Failed, batchv1.JobReasonBackoffLimitExceeded)
	}

	for _, name := range []string{ok.Name, fail.Name} {
		waitFor(ctx, t, "the worker's copy of "+name+" deleted", func() (bool, error) {
			_, err := worker.Clientset.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
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

func waitForJob(ctx context.Context, t *testing.T, c *testCluster, ns, name string, cond batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	waitFor(ctx, t, fmt.Sprintf("%s %s", name, cond), func() (bool, error) {
		var err error
		job, err = c.Clientset.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return jobCondition(job, cond), nil
	})
	return job
}

func jobConditionReason(j *batchv1.Job, typ batchv1.JobConditionType) string {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return c.Reason
		}
	}
	return ""
}
