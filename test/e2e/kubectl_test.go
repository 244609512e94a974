package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestKubectlTellsTheStory: what a user reads with kubectl about a run that
// was edited mid-run, failed, and was deleted.
func TestKubectlTellsTheStory(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const name = "story"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("fetch", "load", "report").
		BackoffLimit(0).StepDuration("fetch", "4s").ExitCode("load", 1).Obj())

	sj := waitForSJ(t, ns, name, "step 0 to run", func(sj *v1alpha1.SequentialJob) bool { return stepPhase(sj, 0) == v1alpha1.PhaseRunning })
	patch := client.MergeFrom(sj.DeepCopy())
	sj.Spec.Containers[2].Command = []string{"sh", "-c", "echo report v2"}
	require.NoError(t, k8s.Patch(context.Background(), sj, patch))
	waitForSJ(t, ns, name, "the Failed condition", func(sj *v1alpha1.SequentialJob) bool {
		return apimeta.IsStatusConditionTrue(sj.Status.Conditions, v1alpha1.ConditionFailed)
	})
	for reason, eventType := range map[string]string{"StepStarted": "Normal", "StepSucceeded": "Normal", "SpecChanged": "Warning", "JobFailed": "Warning"} {
		waitForEvent(t, ns, name, eventType, reason)
	}

	// kubectl get -o wide adds the failure reason.
	wide := strings.Split(strings.TrimSpace(kubectl(t, "get", "sqj", name, "-n", ns, "-o", "wide")), "\n")
	require.Len(t, wide, 2)
	assert.Equal(t, []string{"NAME", "PROGRESS", "PHASE", "CURRENT", "ATTEMPT", "AGE", "REASON"}, strings.Fields(wide[0]))
	row := strings.Fields(wide[1])
	assert.Equal(t, []string{name, "1/3", "Failed", "load", "1"}, row[:5])
	assert.Equal(t, "BackoffLimitExceeded", row[len(row)-1])

	// kubectl events --for tells each transition, in order.
	story := kubectl(t, "events", "-n", ns, "--for", "sequentialjob/"+name)
	for _, want := range []string{
		"StepStarted", "step 0 (fetch) started: created Job story-0",
		"SpecChanged", "while step 0 (fetch) is running",
		"StepSucceeded", "step 0 (fetch) succeeded",
		"step 1 (load) started",
		"JobFailed", "Job 1 failed: BackoffLimitExceeded",
	} {
		assert.Contains(t, story, want)
	}

	// kubectl describe shows the status and the same events.
	describe := kubectl(t, "describe", "sqj", name, "-n", ns)
	for _, want := range []string{"Failure Reason:  BackoffLimitExceeded", "Failed Index:    1", "Job 1 failed: BackoffLimitExceeded", "Events:", "SpecChanged"} {
		assert.Contains(t, describe, want)
	}

	// Deletion is part of the story too.
	kubectl(t, "delete", "sqj", name, "-n", ns, "--wait=true", "--timeout=60s")
	cleanup := kubectl(t, "events", "-n", ns, "--for", "sequentialjob/"+name)
	assert.Contains(t, cleanup, "Cleanup")
	assert.Contains(t, cleanup, "deleting 2 Job(s) and their pods")
}

// TestKubectlWait: the habit of every Job user works on a SequentialJob.
// kubectl wait --for=condition=Complete returns once the run succeeded, and
// --for=condition=Failed once a run failed.
func TestKubectlWait(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	createSJ(t, fixtures.MakeSequentialJob(ns, "succeeds").Steps("a", "b").Duration("200ms").Obj())
	createSJ(t, fixtures.MakeSequentialJob(ns, "fails").Steps("a", "b").Duration("200ms").BackoffLimit(0).ExitCode("b", 1).Obj())

	out := kubectl(t, "wait", "-n", ns, "--for=condition=Complete", "--timeout=60s", "sqj/succeeds")
	assert.Contains(t, out, "sequentialjob.batch.example.com/succeeds condition met")
	assert.Equal(t, v1alpha1.PhaseSucceeded, getSJ(t, ns, "succeeds").Status.Phase)

	out = kubectl(t, "wait", "-n", ns, "--for=condition=Failed", "--timeout=60s", "sqj/fails")
	assert.Contains(t, out, "sequentialjob.batch.example.com/fails condition met")
	assert.Equal(t, v1alpha1.PhaseFailed, getSJ(t, ns, "fails").Status.Phase)
}
