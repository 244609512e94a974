package reconciler

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Priorities of the SequentialJobs a Job's event wakes. A step's end is a
// handoff: the next step waits for it, so it goes before everything else,
// such as the first reconcile of a thousand SequentialJobs just created.
// The Job controller's progress reports on a running Job (active, ready)
// change nothing the controller acts on, so they go last.
const (
	priorityStepEnded   = 10
	priorityJobProgress = handler.LowPriority
)

// jobEvents maps a step Job's events to its SequentialJob, with the
// priorities above (when the controller's queue is a priority queue, as it
// is by default).
func jobEvents() handler.TypedEventHandler[*batchv1.Job, reconcile.Request] {
	return handler.TypedFuncs[*batchv1.Job, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.TypedCreateEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueOwner(q, e.Object, nil)
		},
		UpdateFunc: func(_ context.Context, e event.TypedUpdateEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			priority := priorityJobProgress
			if ended(e.ObjectNew) != ended(e.ObjectOld) || (e.ObjectNew.DeletionTimestamp != nil) != (e.ObjectOld.DeletionTimestamp != nil) {
				priority = priorityStepEnded
			}
			enqueueOwner(q, e.ObjectNew, &priority)
		},
		DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			priority := priorityStepEnded
			enqueueOwner(q, e.Object, &priority)
		},
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueOwner(q, e.Object, nil)
		},
	}
}

// enqueueOwner adds the SequentialJob that controls job, if one does.
func enqueueOwner(q workqueue.TypedRateLimitingInterface[reconcile.Request], job *batchv1.Job, priority *int) {
	ref := metav1.GetControllerOfNoCopy(job)
	if ref == nil || ref.Kind != "SequentialJob" || ref.APIVersion != v1alpha1.GroupVersion.String() {
		return
	}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: job.Namespace, Name: ref.Name}}
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: priority}, req)
		return
	}
	q.Add(req)
}

// ended is true once a Job's Complete or Failed condition is True.
func ended(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
