package badinput_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
	"example.com/sequentialjob/policies/policytest"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestOffline takes every case through the layers in the apiserver's
// order, offline: strict decoding, the CRD's schema and CEL rules
// (config/crd's validator), the admission policies (the apiserver's own
// policy plugin, policytest), then the controller's decision (render). The
// case's layer must be the first to refuse it, with its message; every
// earlier layer must let it through, or the case would sit in the wrong
// layer. An admitted case must end in a clear state and stay there: a
// second reconcile with nothing new writes nothing, so the controller does
// not loop.
func TestOffline(t *testing.T) {
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	ev, err := policytest.NewEvaluator()
	require.NoError(t, err)
	for _, c := range loadCatalogue(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("%s: %s", c.Layer, c.Why)
			obj, err := decodeStrict(c.Raw)
			if c.layerToday() == layerDecode {
				require.Error(t, err, "decoded without error")
				assert.Contains(t, err.Error(), c.Message)
				return
			}
			require.NoError(t, err)

			var old map[string]any
			problems := []string(nil)
			if c.update() {
				old = loadStored(t, c.Old)
				require.Empty(t, schema.Admit(old), "the stored object must be valid")
				problems = schema.AdmitUpdate(obj, old)
			} else {
				problems = schema.Admit(obj)
			}
			if c.OfflineGap != "" {
				// Offline, the CRD's verdict is today the opposite of the
				// apiserver's.
				if c.admitted() {
					require.NotEmpty(t, problems, "the offline gap is closed: remove the case's offline-gap line")
				} else {
					require.Empty(t, problems, "the offline gap is closed: remove the case's offline-gap line")
				}
				return
			}
			if c.layerToday() == layerSchema || c.layerToday() == layerCEL {
				require.NotEmpty(t, problems, "admitted by the CRD")
				assert.Contains(t, strings.Join(problems, "\n"), c.Message)
				return
			}
			require.Empty(t, problems, "refused by the CRD")

			res, err := ev.Evaluate(context.Background(), policyCase(c, obj, old))
			require.NoError(t, err)
			if c.layerToday() == layerPolicy {
				require.Equal(t, policytest.Deny, res.Decision, "%s", res)
				assert.Contains(t, res.Message, c.Message)
				return
			}
			require.NotEqual(t, policytest.Deny, res.Decision, "%s", res)

			renderAdmitted(t, c, obj, old)
		})
	}
}

// policyCase is the request a namespace editor makes with the case.
func policyCase(c badCase, obj, old map[string]any) *policytest.Case {
	pc := &policytest.Case{Reason: c.Why, Operation: "CREATE", User: policytest.DefaultUser,
		Namespace: &policytest.Namespace{Name: namespaceName(c), Labels: namespaceLabels[c.Namespace]}, Object: obj}
	if c.update() {
		pc.Operation, pc.OldObject = "UPDATE", old
	}
	if c.User == limitedUser {
		rules := limitedRules
		pc.User, pc.Permissions = limitedUser, &rules
	}
	return pc
}

func namespaceName(c badCase) string {
	if c.Namespace == "" {
		return "badinput"
	}
	return "badinput-" + c.Namespace
}

var renderNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// renderAdmitted renders an admitted case as the controller's first
// reconcile after the create or the update would, then once more with its
// status written and nothing new.
func renderAdmitted(t *testing.T, c badCase, obj, old map[string]any) {
	sj, jobs := observed(t, c, obj, old)
	obs := render.Observed{SequentialJob: sj, Jobs: jobs}
	switch c.layerToday() {
	case layerDryRun:
		// What the controller dry-runs before step 0: every step's Job.
		needs := render.Render(obs, renderNow).Needs
		require.Len(t, needs.DryRun, len(sj.Spec.Containers), "every step is dry-run before the first one starts")
		// Whichever step the apiserver refuses, the run fails at once.
		for i, step := range sj.Spec.Containers {
			refuse := func(render.Needs) (*render.Answers, error) {
				return &render.Answers{Rejected: map[string]render.Rejection{step.Name: {Reason: v1alpha1.ReasonInvalidStep, Message: "refused by the dry-run"}}}, nil
			}
			d, _, err := render.RenderAnswered(obs, renderNow, refuse)
			require.NoError(t, err)
			require.Nil(t, d.Job, "no Job is created")
			fixtures.RequireRunFailedFast(t, d.Status, v1alpha1.ReasonInvalidStep, "is invalid, so the run stopped before it: refused by the dry-run")
			assert.Equal(t, int32(i), *d.Status.Progress.FailedIndex)
			requireFixpoint(t, sj, jobs, d)
		}
	case layerController:
		d := render.Render(obs, renderNow)
		require.Nil(t, d.Job, "no Job is created")
		failed := meta.FindStatusCondition(d.Status.Conditions, v1alpha1.ConditionFailed)
		require.NotNil(t, failed)
		assert.Equal(t, metav1.ConditionTrue, failed.Status)
		assert.Contains(t, failed.Message, c.Message)
		requireFixpoint(t, sj, jobs, d)
	case layerAccepted:
		d := render.Render(obs, renderNow)
		assert.Equal(t, v1alpha1.PhaseRunning, d.Status.Phase)
		assert.False(t, meta.IsStatusConditionTrue(d.Status.Conditions, v1alpha1.ConditionFailed))
		if c.update() {
			assert.Nil(t, d.Job, "the running step goes on; nothing else starts")
			return
		}
		require.NotNil(t, d.Job)
		assert.Equal(t, render.JobName(sj.Name, 0), *d.Job.Name)
		assert.LessOrEqual(t, len(*d.Job.Name), v1alpha1.MaxJobNameLength)
	}
}

// requireFixpoint: with d's status written and nothing new (no new dry-run
// either: the generation is observed), a reconcile writes and creates
// nothing.
func requireFixpoint(t *testing.T, sj *v1alpha1.SequentialJob, jobs []batchv1.Job, d render.Desired) {
	t.Helper()
	next := sj.DeepCopy()
	next.Status = d.Status
	again := render.Render(render.Observed{SequentialJob: next, Jobs: jobs}, renderNow.Add(time.Minute))
	assert.Nil(t, again.Job)
	assert.False(t, again.StatusChanged(), "a reconcile with nothing new changes the status")
	assert.Empty(t, again.Events)
}

// observed is the SequentialJob as the controller reads it after the create
// or the update, and its Jobs: for an update, the Job of each step the
// stored status says is running, which completes for a controller case.
func observed(t *testing.T, c badCase, obj, old map[string]any) (*v1alpha1.SequentialJob, []batchv1.Job) {
	t.Helper()
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj, sj))
	sj.Namespace, sj.UID, sj.Generation = namespaceName(c), "uid", 1
	if !c.update() {
		return sj, nil
	}
	stored := &v1alpha1.SequentialJob{}
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(old, stored))
	sj.Generation, sj.Status = 2, stored.Status
	var jobs []batchv1.Job
	for i, step := range stored.Status.Steps {
		if step.Phase != v1alpha1.PhaseRunning {
			continue
		}
		job := stepJob(sj, i, step.Name)
		if c.Layer == layerController {
			job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(renderNow)}}
		}
		jobs = append(jobs, job)
	}
	return sj, jobs
}

// stepJob is the Job the controller created for entry index of sj's steps.
func stepJob(sj *v1alpha1.SequentialJob, index int, step string) batchv1.Job {
	return batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: render.JobName(sj.Name, index), Namespace: sj.Namespace,
			Labels: map[string]string{v1alpha1.LabelSequentialJob: sj.Name, v1alpha1.LabelStepIndex: strconv.Itoa(index), v1alpha1.LabelStepName: step},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SequentialJob", Name: sj.Name, UID: sj.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: step, Image: "busybox"}}}}},
	}
}
