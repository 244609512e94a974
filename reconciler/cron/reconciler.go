// Package cron is the controller of SequentialCronJobs: read the cron and
// its runs from the cache, decide (schedule.Decide, pure), then delete,
// create, write status and record events, and look again at the next
// schedule time.
package cron

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
	"example.com/sequentialjob/internal/eventpost"
	"example.com/sequentialjob/schedule"
)

// FieldManager owns the cron status the controller applies and the runs
// it creates.
const FieldManager = "sequentialcronjob-controller"

// Reconciler reconciles one SequentialCronJob at a time.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// New is the reconciler of a manager: cached reads, events.k8s.io events,
// the real clock.
func New(mgr ctrl.Manager) (*Reconciler, error) {
	recorder, err := eventpost.NewRecorder(mgr, FieldManager)
	if err != nil {
		return nil, err
	}
	return &Reconciler{Client: mgr.GetClient(), Recorder: recorder, Clock: clock.RealClock{}}, nil
}

// Reconcile runs one decision for the cron and carries it out: deletions
// first (Replace ends the active runs before the new one starts), then the
// run to create, the status, and the events once the status holds them.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cron := &v1alpha1.SequentialCronJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, cron); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cron.DeletionTimestamp != nil {
		// Its runs are deleted by the garbage collector (owner references).
		return ctrl.Result{}, nil
	}
	var runs v1alpha1.SequentialJobList
	if err := r.Client.List(ctx, &runs, client.InNamespace(cron.Namespace), client.MatchingFields{runsByCron: string(cron.UID)}); err != nil {
		return ctrl.Result{}, err
	}
	d := schedule.Decide(cron, runs.Items, r.Clock.Now())
	if err := r.carryOut(ctx, cron, d); err != nil {
		r.Recorder.Eventf(cron, nil, corev1.EventTypeWarning, v1alpha1.EventReconciliationFailed, "Reconcile", "%s", err.Error())
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: d.RequeueAfter}, nil
}

func (r *Reconciler) carryOut(ctx context.Context, cron *v1alpha1.SequentialCronJob, d schedule.Decision) error {
	for _, del := range d.Delete {
		if err := r.deleteRun(ctx, cron, del); err != nil {
			return err
		}
	}
	if d.Create != nil {
		if err := r.createRun(ctx, d.Create); err != nil {
			return err
		}
		// The UID the apiserver gave the run, so the status written now is
		// the one the next look computes, not one more write.
		for i := range d.Status.Active {
			if d.Status.Active[i].Name == d.Create.Name {
				d.Status.Active[i].UID = d.Create.UID
			}
		}
	}
	if err := r.writeStatus(ctx, cron, d.Status); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	logger := log.FromContext(ctx)
	for _, e := range d.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(cron, nil, kind, e.Reason, "Reconcile", "%s", e.Message)
		logger.Info(e.Message, "event", e.Reason, "type", kind)
	}
	return nil
}

// createRun creates a run. Its name is the schedule time's, so a create
// that races a lagging cache, or a restart after a create whose status was
// never written, is AlreadyExists: one run per schedule time.
func (r *Reconciler) createRun(ctx context.Context, run *v1alpha1.SequentialJob) error {
	err := r.Client.Create(ctx, run, client.FieldOwner(FieldManager))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating SequentialJob %s: %w", run.Name, err)
	}
	return nil
}

// deleteRun deletes a run in the background: the SequentialJob's own
// cleanup finalizer then stops its Jobs. The UID precondition keeps a run
// re-created under that name safe.
func (r *Reconciler) deleteRun(ctx context.Context, cron *v1alpha1.SequentialCronJob, del schedule.Deletion) error {
	uid := types.UID(del.UID)
	run := &v1alpha1.SequentialJob{ObjectMeta: metav1.ObjectMeta{Namespace: cron.Namespace, Name: del.Name}}
	err := r.Client.Delete(ctx, run, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting SequentialJob %s: %w", del.Name, err)
	}
	return nil
}

// writeStatus applies the whole status, and nothing when it is unchanged.
func (r *Reconciler) writeStatus(ctx context.Context, cron *v1alpha1.SequentialCronJob, status v1alpha1.SequentialCronJobStatus) error {
	if equality.Semantic.DeepEqual(cron.Status, status) {
		return nil
	}
	intent := sjac.SequentialCronJob(cron.Name, cron.Namespace)
	intent.Status = &sjac.SequentialCronJobStatusApplyConfiguration{}
	data, err := json.Marshal(status)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, intent.Status); err != nil {
		return err
	}
	return r.Client.Status().Apply(ctx, intent, client.FieldOwner(FieldManager), client.ForceOwnership)
}
