package reconciler

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/eventpost"
)

// Least privilege: SequentialJobs are read and patched (finalizer), their
// status applied; Jobs are created (apply, and dry-run creates that
// validate a step before it starts), read, patched (only to remove the
// step-result finalizer) and deleted, never updated in place;
// ServiceAccounts are only read, to check a step can start; the
// PersistentVolumeClaims of spec.volumeClaimTemplates are created (the
// dry-run), patched (the apply that creates them), deleted (when the run
// finishes or goes) and listed live in the cleanup, never watched; the pods of
// our steps are listed and watched (cached), never written; events are only
// created (internal/eventpost posts each one, never a series). test/e2e proves
// every rule is used (checkLeastPrivilege).
//
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialjobs,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialjobs/status,verbs=patch
// +kubebuilder:rbac:groups=batch.example.com,resources=sequentialjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=create;patch;delete;list
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Defaults of the controller's flags, sized in docs/performance.md: 100
// SequentialJobs created at once cost about 800 requests (a finalizer, a
// dry-run per step, a Job, a status, events), which controller-runtime's
// default of 20 per second would queue for 40 seconds; the apiserver's own
// fairness (API Priority and Fairness) protects it beyond that.
const (
	DefaultQPS     = 200
	DefaultBurst   = 400
	DefaultWorkers = 16
)

// SetupWithManager registers the reconciler: it watches SequentialJobs and
// the Jobs they control (a step's end first, see jobEvents), reconciling up to workers SequentialJobs at once
// (0 means DefaultWorkers).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers ...int) error {
	n := DefaultWorkers
	if len(workers) > 0 && workers[0] > 0 {
		n = workers[0]
	}
	if err := IndexCache(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.SequentialJob{}, builder.WithPredicates(r.sequentialJobChanged())).
		WatchesRawSource(source.Kind(mgr.GetCache(), &batchv1.Job{}, jobEvents())).
		Named("sequentialjob").
		WithOptions(controller.Options{RateLimiter: rateLimiter(), MaxConcurrentReconciles: n}).
		Complete(r)
}

// stripJob keeps what render reads of a Job: its metadata (labels, owner,
// finalizers, deletion), spec.suspend and its status.
func stripJob(obj any) (any, error) {
	if job, ok := obj.(*batchv1.Job); ok {
		job.ManagedFields, job.Annotations = nil, nil
		// suspend and managedBy tell a queued step (Kueue) and a step run
		// on another cluster (MultiKueue) from a running one.
		job.Spec = batchv1.JobSpec{Suspend: job.Spec.Suspend, ManagedBy: job.Spec.ManagedBy}
	}
	return obj, nil
}

// stripPod keeps what render reads of a pod (render/results.go): its
// name, labels and creation, its phase, reason and message, and each
// container's name and terminated state. The spec, the annotations (they
// carry the earlier steps' results) and the rest of status are dropped: a
// cached pod is a few hundred bytes.
func stripPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	stripped := &corev1.Pod{
		TypeMeta: pod.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			Labels: pod.Labels, CreationTimestamp: pod.CreationTimestamp, DeletionTimestamp: pod.DeletionTimestamp,
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase, Reason: pod.Status.Reason, Message: pod.Status.Message},
	}
	for _, c := range pod.Status.ContainerStatuses {
		stripped.Status.ContainerStatuses = append(stripped.Status.ContainerStatuses,
			corev1.ContainerStatus{Name: c.Name, State: corev1.ContainerState{Terminated: c.State.Terminated}})
	}
	return stripped, nil
}

// stripSequentialJob drops managedFields and, once a run has finished, the
// steps and the pod template: a finished run is final, so nothing reads
// them again (render only follows a still running Job and the generation).
// This is most of the memory of a controller that keeps thousands of
// finished runs. A feature that acts on a finished run's spec (a retry)
// must keep what it reads here.
func stripSequentialJob(obj any) (any, error) {
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if !ok {
		return obj, nil
	}
	sj.ManagedFields = nil
	// A finished run is final: nothing reads its steps again, unless a new
	// spec.retryToken re-opens it.
	finished := sj.Status.Phase.Terminal()
	if finished && sj.Spec.RetryToken == sj.Status.RetryToken {
		sj.Spec.Containers, sj.Spec.Finally, sj.Spec.Template, sj.Spec.StepTemplate = nil, nil, corev1.PodTemplateSpec{}, nil
	}
	return sj, nil
}

// rateLimiter spaces the retries of a failing SequentialJob from 50ms up to
// two minutes. The default's 16-minute ceiling would leave a run waiting long
// after a missing ServiceAccount or quota was fixed: nothing we watch tells
// us about those.
func rateLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](50*time.Millisecond, 2*time.Minute),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// New is the reconciler of a manager: cached reads, live reads for
// confirmations, events.k8s.io events, the real clock. metrics may be nil.
func New(mgr ctrl.Manager, metrics *Metrics) (*Reconciler, error) {
	recorder, err := eventpost.NewRecorder(mgr, FieldManager)
	if err != nil {
		return nil, err
	}
	jobs, err := jobsClient(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		Client:    mgr.GetClient(),
		Jobs:      jobs,
		APIReader: mgr.GetAPIReader(),
		Recorder:  recorder,
		Clock:     clock.RealClock{},
		Metrics:   metrics,
		expect:    newExpectations(clock.RealClock{}.Now),
		retries:   newRetries(),
	}
	metrics.track("expectations", r.expect.len)
	metrics.track("retries", r.retries.len)
	return r, nil
}

// jobsClient is client-go's Jobs client on the manager's connection
// settings, speaking protobuf both ways where the apiserver can (an apply's
// patch itself is JSON).
func jobsClient(cfg *rest.Config) (batchv1client.JobsGetter, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return batchv1client.NewForConfig(cfg)
}

// IndexCache registers the indexes the reconciler reads the cache
// through: Jobs by SequentialJob, and pods by Job. Registering the pod
// index also starts the pod informer with the manager, so the first
// handoff finds its pods cached. SetupWithManager calls it; a test that
// wires the reconciler into a controller of its own calls it too.
func IndexCache(mgr ctrl.Manager) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &batchv1.Job{}, jobsBySequentialJob, sequentialJobOf); err != nil {
		return err
	}
	return mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, podsByJob, jobOf)
}

// jobsBySequentialJob indexes the cached Jobs by the SequentialJob their
// label names.
const jobsBySequentialJob = "sequentialjob"

// podsByJob indexes the cached pods by the Job that made them: a handoff
// reads the pods of one Job, not every pod of the namespace.
const podsByJob = "job"

func jobOf(obj client.Object) []string {
	if name := obj.GetLabels()[batchv1.JobNameLabel]; name != "" {
		return []string{name}
	}
	return nil
}

func sequentialJobOf(obj client.Object) []string {
	if name := obj.GetLabels()[v1alpha1.LabelSequentialJob]; name != "" {
		return []string{name}
	}
	return nil
}

// CacheOptions caches only the Jobs we label whose result status does not
// record yet: the controller holds its running steps' Jobs in memory, not
// every Job of the cluster, nor every Job it ever made. Of pods it caches
// only those of our steps, stripped to what tells a step's result and
// failure (see stripPod): a handoff reads its step's pods from memory
// instead of the apiserver. What the controller never reads is dropped
// from every cached object: managedFields, and a Job's pod template and
// selector, often the largest parts of an object.
func CacheOptions() cache.Options {
	ours, err := labels.NewRequirement(v1alpha1.LabelSequentialJob, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid label key
	}
	unrecorded, err := labels.NewRequirement(v1alpha1.LabelStepRecorded, selection.DoesNotExist, nil)
	if err != nil {
		panic(err)
	}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}:            {Label: labels.NewSelector().Add(*ours, *unrecorded), Transform: stripJob},
			&corev1.Pod{}:             {Label: labels.NewSelector().Add(*ours), Transform: stripPod},
			&v1alpha1.SequentialJob{}: {Transform: stripSequentialJob},
		},
	}
}
