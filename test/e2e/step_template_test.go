package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestStepTemplateEnvInEveryStepJob: spec.stepTemplate's env reaches the
// Job of every step and of the finally step, with a step's own variable of
// the same name winning; the run succeeds. The SequentialJob is created by
// the typed client, which sends the template's empty name: admission
// accepts it.
func TestStepTemplateEnvInEveryStepJob(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "templated"
	sj := fixtures.MakeSequentialJob(ns, name).Steps("build", "test").Finally("notify").Duration("200ms").
		StepTemplate(corev1.Container{Env: []corev1.EnvVar{{Name: "SHARED", Value: "yes"}, {Name: "STAGE", Value: "ci"}}}).Obj()
	sj.Spec.Containers[1].Env = []corev1.EnvVar{{Name: "STAGE", Value: "test-only"}}
	createSJ(t, sj)

	done := waitForSJ(t, ns, name, "to finish", finished)
	jobs.requireSequential(t)
	require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Phase, "status: %+v", done.Status)
	require.Equal(t, []string{"build", "test", "notify"}, jobs.stepsRun(name))

	want := map[string]map[string]string{
		name + "-0":  {"SHARED": "yes", "STAGE": "ci"},
		name + "-1":  {"SHARED": "yes", "STAGE": "test-only"},
		name + "-f0": {"SHARED": "yes", "STAGE": "ci"},
	}
	for jobName, env := range want {
		job := jobs.job(jobName)
		require.NotNil(t, job, "Job %s was recorded", jobName)
		require.Equal(t, env, envOf(job), "the env of Job %s", jobName)
	}
}

// envOf is the plain variables of a step Job's container.
func envOf(job *batchv1.Job) map[string]string {
	out := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}
