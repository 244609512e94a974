package reconciler

import (
	"context"
	"maps"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// priorityStepEnded is the priority of the SequentialJob whose step Job
// ended or is being deleted. A step's end is a handoff: the next step waits
// for it, so it goes before everything else, such as the first reconcile of
// a thousand SequentialJobs just created (when the controller's queue is a
// priority queue, as it is by default).
const priorityStepEnded = 10

// jobEvents maps a step Job's events to its SequentialJob. The Job
// controller's progress reports on a running Job (active, ready, pod
// counts), about five per step, change nothing the controller acts on:
// they wake nothing. The removal of the step-result finalizer wakes it with
// a low priority, only so that it forgets that it removed it.
func jobEvents() handler.TypedEventHandler[*batchv1.Job, reconcile.Request] {
	return handler.TypedFuncs[*batchv1.Job, reconcile.Request]{
		CreateFunc: func(_ context.Context, e event.TypedCreateEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueOwner(q, e.Object, nil)
		},
		UpdateFunc: func(_ context.Context, e event.TypedUpdateEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			switch {
			case matters(e.ObjectOld, e.ObjectNew):
				priority := priorityStepEnded
				enqueueOwner(q, e.ObjectNew, &priority)
			case !slices.Equal(e.ObjectOld.Finalizers, e.ObjectNew.Finalizers):
				priority := handler.LowPriority
				enqueueOwner(q, e.ObjectNew, &priority)
			}
		},
		DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			// A released Job leaves the cache as if deleted: its result is
			// already in status.
			priority := priorityStepEnded
			if e.Object.Labels[v1alpha1.LabelStepRecorded] != "" || !slices.Contains(e.Object.Finalizers, v1alpha1.FinalizerStepResult) {
				priority = handler.LowPriority
			}
			enqueueOwner(q, e.Object, &priority)
		},
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[*batchv1.Job], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueOwner(q, e.Object, nil)
		},
	}
}

// sequentialJobChanged filters the SequentialJob's own updates: a change of
// its spec or metadata (generation, deletion, finalizers, labels) wakes it,
// and so does the event of any write a waiting reconcile needs to see. The
// events of the controller's own status writes otherwise wake nothing:
// after its write, a reconcile has nothing left to do until a Job changes.
func (r *Reconciler) sequentialJobChanged() predicate.TypedPredicate[client.Object] {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, new := e.ObjectOld, e.ObjectNew
		return old.GetGeneration() != new.GetGeneration() ||
			(old.GetDeletionTimestamp() == nil) != (new.GetDeletionTimestamp() == nil) ||
			!slices.Equal(old.GetFinalizers(), new.GetFinalizers()) ||
			!maps.Equal(old.GetLabels(), new.GetLabels()) ||
			r.expect.isWaiting(new.GetUID())
	}}
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

// matters is true when a Job changed in a way render acts on: it ended,
// its deletion began, its suspension changed, or its identity (labels,
// owner) changed.
func matters(old, new *batchv1.Job) bool {
	return ended(old) != ended(new) ||
		(old.DeletionTimestamp != nil) != (new.DeletionTimestamp != nil) ||
		ptr.Deref(old.Spec.Suspend, false) != ptr.Deref(new.Spec.Suspend, false) ||
		!maps.Equal(old.Labels, new.Labels) ||
		!slices.EqualFunc(old.OwnerReferences, new.OwnerReferences, func(a, b metav1.OwnerReference) bool {
			return a.UID == b.UID && ptr.Deref(a.Controller, false) == ptr.Deref(b.Controller, false)
		})
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
