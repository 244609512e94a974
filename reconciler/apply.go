package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// createJob creates a step's Job with server-side apply. Its name is
// deterministic, so an apply that races a lagging cache is an upsert of the
// same Job, never a second one.
func (r *Reconciler) createJob(ctx context.Context, sj *v1alpha1.SequentialJob, job *batchv1ac.JobApplyConfiguration) error {
	if _, err := r.Jobs.Jobs(*job.Namespace).Apply(ctx, job, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("applying Job %s: %w", *job.Name, err)
	}
	r.expect.createdJob(sj.UID, *job.Name)
	return nil
}

// controlJobs applies render's changes to running Jobs (suspend, resume,
// stop) with a field manager of their own: the creating manager's intent
// for each Job stays whole, and these small intents never remove its fields.
// Forced, because the creating manager may own spec.activeDeadlineSeconds.
func (r *Reconciler) controlJobs(ctx context.Context, controls []*batchv1ac.JobApplyConfiguration) error {
	for _, control := range controls {
		_, err := r.Jobs.Jobs(*control.Namespace).Apply(ctx, control, metav1.ApplyOptions{FieldManager: render.JobControlFieldManager, Force: true})
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("applying to Job %s: %w", *control.Name, err)
		}
	}
	return nil
}

// expire deletes a SequentialJob whose ttlSecondsAfterFinished has passed;
// the cleanup finalizer then deletes its Jobs. The UID precondition keeps
// a SequentialJob re-created under the same name (by a GitOps tool) safe.
func (r *Reconciler) expire(ctx context.Context, sj *v1alpha1.SequentialJob) error {
	err := r.Client.Delete(ctx, sj, client.Preconditions{UID: &sj.UID}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	return client.IgnoreNotFound(err)
}

// writeStatus writes the whole status through the status subresource, and
// nothing at all when it has not changed.
func (r *Reconciler) writeStatus(ctx context.Context, sj *v1alpha1.SequentialJob, desired render.Desired) error {
	if !desired.StatusChanged() {
		return nil
	}
	intent := desired.StatusApply()
	if err := r.Client.Status().Apply(ctx, intent, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return err
	}
	if rv := intent.ResourceVersion; rv != nil {
		r.expect.wroteSequentialJob(sj.UID, *rv)
	}
	return nil
}

// release removes the step-result finalizer from the named Jobs, whose
// result status now records, and labels them recorded: the cache then lets
// them go (see CacheOptions).
func (r *Reconciler) release(ctx context.Context, sj *v1alpha1.SequentialJob, jobs []batchv1.Job, names []string) error {
	for _, name := range r.expect.stillReleasing(sj.UID, names) {
		job := jobNamed(jobs, name)
		if job == nil {
			continue
		}
		if err := releaseJob(ctx, r.Client, job); err != nil {
			return fmt.Errorf("releasing Job %s: %w", name, err)
		}
		r.expect.releasedJob(sj.UID, name)
	}
	return nil
}

// releaseJob removes the step-result finalizer from job, if it has it, and
// adds the step-recorded label, in one JSON patch that first tests the
// finalizer is where it was: it removes ours and nothing another controller
// added since.
func releaseJob(ctx context.Context, c client.Client, job *batchv1.Job) error {
	i := slices.Index(job.Finalizers, v1alpha1.FinalizerStepResult)
	if i < 0 {
		return nil
	}
	path := fmt.Sprintf("/metadata/finalizers/%d", i)
	label := "/metadata/labels/" + strings.ReplaceAll(v1alpha1.LabelStepRecorded, "/", "~1")
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": path, "value": v1alpha1.FinalizerStepResult},
		{"op": "remove", "path": path},
		{"op": "add", "path": label, "value": "true"},
	})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(c.Patch(ctx, job, client.RawPatch(types.JSONPatchType, patch)))
}
