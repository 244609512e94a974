package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// The kubectl plugin (bin/kubectl-sequentialjob, built by make build), run
// the way users run it: as `kubectl sequentialjob ...`, kubectl finding it
// on PATH, with kubectl's flags.

// kubectlPlugin runs `kubectl sequentialjob args...` with bin/ on PATH and
// the cluster's kubeconfig in KUBECONFIG.
func kubectlPlugin(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(), "bin", "kubectl"), append([]string{"sequentialjob"}, args...)...)
	// kubectl passes its environment to the plugin, which reads KUBECONFIG
	// as kubectl does.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig,
		"PATH="+filepath.Join(repoRoot(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustPlugin(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlPlugin(t, args...)
	require.NoError(t, err, "kubectl sequentialjob %s:\n%s", strings.Join(args, " "), out)
	return out
}

// TestPluginStatusTree: the status tree shows each step's phase, duration,
// Job, message and result, and -o yaml|json print the object.
func TestPluginStatusTree(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "tree"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("build", "lint", "ship").Finally("notify").Duration("200ms").
		Result("build", "sha256:4f1c").ExitCode("lint", 1).
		Settings(v1alpha1.StepSettings{Name: "lint", BackoffLimit: ptrTo[int32](0), OnFailure: v1alpha1.OnFailureContinue}).Obj())
	waitForSJ(t, ns, name, "to finish", finished)

	tree := mustPlugin(t, "status", name, "-n", ns)
	lines := strings.Split(strings.TrimSpace(tree), "\n")
	require.GreaterOrEqual(t, len(lines), 6, tree)
	assert.Equal(t, []string{"SequentialJob", ns + "/" + name, "Succeeded", "2/3", "attempt", "1"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"├─", "0", "build", "Succeeded"}, strings.Fields(lines[1])[:4])
	assert.Contains(t, lines[1], name+"-0")
	assert.Contains(t, lines[1], "result: sha256:4f1c")
	assert.Contains(t, lines[2], "Failed")
	assert.Contains(t, lines[2], "allowed to fail")
	assert.Contains(t, lines[2], "exited with code 1")
	assert.Equal(t, "└─ finally", strings.TrimSpace(lines[4]))
	assert.Equal(t, []string{"└─", "0", "notify", "Succeeded"}, strings.Fields(lines[5])[:4])
	assert.Contains(t, lines[5], name+"-f0")

	var fromYAML, fromJSON v1alpha1.SequentialJob
	require.NoError(t, yaml.UnmarshalStrict([]byte(mustPlugin(t, "status", name, "-n", ns, "-o", "yaml")), &fromYAML))
	require.NoError(t, json.Unmarshal([]byte(mustPlugin(t, "status", name, "-n", ns, "-o", "json")), &fromJSON))
	for _, got := range []v1alpha1.SequentialJob{fromYAML, fromJSON} {
		assert.Equal(t, "SequentialJob", got.Kind)
		assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
		assert.Empty(t, got.ManagedFields)
	}

	_, err := kubectlPlugin(t, "status", "missing", "-n", ns)
	require.Error(t, err)
}

// TestPluginSuspendResumeRetry: suspend, resume and retry set the run
// controls with server-side apply, as the field manager
// kubectl-sequentialjob, and the controller acts on them.
func TestPluginSuspendResumeRetry(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "controlled"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("slow", "fails").StepDuration("slow", "4s").Duration("200ms").
		BackoffLimit(0).ExitCode("fails", 1).Obj())
	waitForRunningPod(t, ns, name+"-0")

	assert.Equal(t, "sequentialjob.batch.example.com/"+name+" suspended\n", mustPlugin(t, "suspend", name, "-n", ns))
	sj := waitForSJ(t, ns, name, "to be Suspended", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseSuspended })
	require.True(t, managedBy(sj, "kubectl-sequentialjob", "f:suspend"), "spec.suspend is owned by kubectl-sequentialjob: %v", sj.ManagedFields)

	// -o yaml prints the object as applied.
	var resumed v1alpha1.SequentialJob
	require.NoError(t, yaml.Unmarshal([]byte(mustPlugin(t, "resume", name, "-n", ns, "-o", "yaml")), &resumed))
	require.Equal(t, ptrTo(false), resumed.Spec.Suspend)
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventResumed)

	// Retry refuses a run that has not failed.
	out, err := kubectlPlugin(t, "retry", name, "-n", ns)
	require.Error(t, err)
	require.Contains(t, out, "only a Failed run is retried")

	// Step 0 ends once resumed, and step 1 fails the run.
	waitForSJ(t, ns, name, "to fail", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseFailed })

	editSJ(t, ns, name, func(sj *v1alpha1.SequentialJob) {
		delete(sj.Spec.Template.Annotations, "sim.batch.example.com/exit-code.fails")
	})
	assert.Equal(t, "sequentialjob.batch.example.com/"+name+" retried (retryToken fix-1)\n", mustPlugin(t, "retry", name, "-n", ns, "--retry-token", "fix-1"))
	sj = waitForSJ(t, ns, name, "to succeed", func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseSucceeded })
	require.Equal(t, "fix-1", sj.Spec.RetryToken)
	require.Equal(t, int32(2), sj.Status.Attempt)
	require.True(t, managedBy(sj, "kubectl-sequentialjob", "f:retryToken"))

	_, err = kubectlPlugin(t, "retry", name, "-n", ns, "--retry-token", "fix-1")
	require.Error(t, err, "a used token is refused")
}

// TestPluginLogsSelectsThePod: kwok serves no logs, so the test checks
// which pod `logs` reads: the step's current Job's running pod, else the
// one that ended last; and the errors for a step with no pod.
func TestPluginLogsSelectsThePod(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "logged"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("first", "second", "third").StepDuration("second", "1h").Duration("200ms").Obj())
	waitForRunningPod(t, ns, name+"-1")
	running := runningPodName(t, ns, name+"-1")

	// The current step: the running pod of step 1.
	out, err := kubectlPlugin(t, "logs", name, "-n", ns)
	require.Error(t, err, "kwok serves no logs")
	require.Contains(t, out, "reading the logs of pod "+running+" (step second, Job "+name+"-1)")

	// A finished step: its succeeded pod.
	pods, err := podsOf(context.Background(), ns, name+"-0")
	require.NoError(t, err)
	require.Len(t, pods, 1)
	out, _ = kubectlPlugin(t, "logs", name, "-n", ns, "--step", "first")
	require.Contains(t, out, "reading the logs of pod "+pods[0].Name+" (step first, Job "+name+"-0)")

	out, _ = kubectlPlugin(t, "logs", name, "-n", ns, "--step", "third")
	require.Contains(t, out, "step third has not started: it has no pod")
	out, _ = kubectlPlugin(t, "logs", name, "-n", ns, "--step", "fourth")
	require.Contains(t, out, `has no step "fourth"; its steps are first, second, third`)
}

// TestPluginRender: the offline render is a subcommand of the plugin too.
func TestPluginRender(t *testing.T) {
	t.Parallel()
	out := mustPlugin(t, "render", "-f", filepath.Join(repoRoot(), "examples", "seed-example.yaml"))
	require.Contains(t, out, "name: example-job-sequence-0")
	require.Contains(t, mustPlugin(t, "--help"), "kubectl sequentialjob [command]")
}

func runningPodName(t *testing.T, ns, job string) string {
	t.Helper()
	pods, err := podsOf(context.Background(), ns, job)
	require.NoError(t, err)
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning {
			return p.Name
		}
	}
	t.Fatalf("Job %s has no running pod", job)
	return ""
}

// managedBy is true when manager owns the spec field (f:<name>).
func managedBy(sj *v1alpha1.SequentialJob, manager, field string) bool {
	for _, m := range sj.ManagedFields {
		if m.Manager == manager && m.FieldsV1 != nil && strings.Contains(m.FieldsV1.GetRawString(), `"`+field+`"`) {
			return true
		}
	}
	return false
}

func ptrTo[T any](v T) *T { return &v }

// TestPluginRetryFromStep: a three-step run succeeds; `kubectl sequentialjob
// retry --from second` re-runs exactly steps 1 and 2, each as attempt 2 in a
// new Job, with their first attempts in previousAttempts; step 0's Job is
// not touched or created again, and the run succeeds again as attempt 2.
func TestPluginRetryFromStep(t *testing.T) {
	t.Parallel()
	plugin := buildPlugin(t) // this checkout's plugin: bin/ may hold an older one
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "rerun"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("first", "second", "third").Duration("200ms").Obj())
	sj := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, sj.Status.Phase)
	first := jobs.job(name + "-0")
	require.NotNil(t, first)

	out, err := triggerWith(plugin, "retry", name, "-n", ns, "--from", "second", "--retry-token", "again")
	require.NoError(t, err, out)
	assert.Equal(t, "sequentialjob.batch.example.com/"+name+" retried from step second (retryToken again)\n", out)
	waitForEvent(t, ns, name, corev1.EventTypeNormal, v1alpha1.EventRetry)
	sj = waitForSJ(t, ns, name, "to succeed again", func(sj *v1alpha1.SequentialJob) bool {
		return sj.Status.Attempt == 2 && sj.Status.Phase == v1alpha1.PhaseSucceeded
	})

	jobs.requireOneAtATime(t)
	require.Equal(t, []string{name + "-0", name + "-1", name + "-2", name + "-1-r2", name + "-2-r2"}, jobs.createdNames(),
		"steps 1 and 2 ran again, step 0 did not")
	again := jobs.job(name + "-0")
	require.NotNil(t, again, "step 0's Job is kept")
	require.Equal(t, first.UID, again.UID, "step 0's Job is not re-created")
	require.Equal(t, first.Generation, again.Generation, "step 0's Job spec is not touched")
	require.True(t, managedBy(sj, "kubectl-sequentialjob", "f:retryFrom"), "spec.retryFrom is owned by kubectl-sequentialjob: %v", sj.ManagedFields)
	require.Equal(t, "second", sj.Spec.RetryFrom)

	require.Len(t, sj.Status.Steps, 3)
	step0 := sj.Status.Steps[0]
	require.Equal(t, name+"-0", step0.JobName)
	require.Equal(t, int32(1), step0.Attempt)
	require.Empty(t, step0.PreviousAttempts)
	for i, step := range sj.Status.Steps[1:] {
		require.Equal(t, v1alpha1.PhaseSucceeded, step.Phase, step.Name)
		require.Equal(t, int32(2), step.Attempt, step.Name)
		require.Equal(t, fmt.Sprintf("%s-%d-r2", name, i+1), step.JobName)
		require.Len(t, step.PreviousAttempts, 1, step.Name)
		require.Equal(t, fmt.Sprintf("%s-%d", name, i+1), step.PreviousAttempts[0].JobName)
		require.Equal(t, v1alpha1.PhaseSucceeded, step.PreviousAttempts[0].Phase)
	}
}
