package gitops_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

// renderNow is the clock the fixtures are rendered at.
var renderNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is a SequentialJob as a health checker sees it: the object whose
// status is what render decided, never a hand-written status.
type fixture struct {
	name   string
	reason string
	// build returns the object to judge.
	build func(t *testing.T) *v1alpha1.SequentialJob
}

// rendered loads a render golden case (render/testdata/<name>), renders it
// and returns the SequentialJob carrying the rendered status, as the
// controller would leave it after applying that status.
func rendered(name string) func(t *testing.T) *v1alpha1.SequentialJob {
	usedRenderCases[name] = true
	return func(t *testing.T) *v1alpha1.SequentialJob {
		t.Helper()
		c := loadRenderCase(t, name)
		c.SequentialJob.Status = c.Render(renderNow).Status
		return c.SequentialJob
	}
}

// lagging is rendered(name) after a spec edit the controller has not seen
// yet: the apiserver bumped metadata.generation, the status is the old one.
func lagging(name string) func(t *testing.T) *v1alpha1.SequentialJob {
	return func(t *testing.T) *v1alpha1.SequentialJob {
		t.Helper()
		sj := rendered(name)(t)
		sj.Generation++
		return sj
	}
}

// neverReconciled is the case's SequentialJob as the apiserver returns it
// before the controller wrote any status (status dropped on create).
func neverReconciled(name string) func(t *testing.T) *v1alpha1.SequentialJob {
	return func(t *testing.T) *v1alpha1.SequentialJob {
		t.Helper()
		sj := loadRenderCase(t, name).SequentialJob
		sj.Status = v1alpha1.SequentialJobStatus{}
		return sj
	}
}

// usedRenderCases are the render golden cases some fixture renders.
var usedRenderCases = map[string]bool{}

// healthFixtures cover every phase render produces.
var healthFixtures = []fixture{
	{"not-yet-reconciled", "Applied, the controller has not written a status yet.", neverReconciled("fresh-creates-job-0")},
	{"step-0-starting", "The first reconcile: step 0's Job is being created.", rendered("fresh-creates-job-0")},
	{"step-0-running", "Step 0's Job runs.", rendered("job-0-running-waits")},
	{"step-0-success-criteria-met", "Step 0's Job met its success criteria, pods still terminating.", rendered("success-criteria-met-is-not-terminal")},
	{"step-0-failure-target", "Step 0's Job hit its failure target, pods still terminating.", rendered("failure-target-is-not-terminal")},
	{"step-1-starting", "Step 0 succeeded, step 1's Job is being created.", rendered("job-0-complete-creates-job-1")},
	{"spec-changed-while-running", "The spec changed while step 0 runs; the controller observed it.", rendered("spec-changed-while-step-running")},
	{"spec-changed-next-step", "After a spec change, the next step starts from the new spec.", rendered("spec-changed-next-step-uses-new-spec")},
	{"running-generation-lags", "The spec changed while running; the controller has not observed it yet.", lagging("job-0-running-waits")},
	{"all-succeeded", "Every step succeeded.", rendered("all-complete-run-succeeds")},
	{"finished-job-deleted", "A succeeded step's Job was deleted; its result stands.", rendered("finished-job-deleted-is-not-recreated")},
	{"succeeded-generation-lags", "The spec changed after the run succeeded; the controller has not observed it yet.", lagging("all-complete-run-succeeds")},
	{"step-1-failed", "Step 1's Job failed with BackoffLimitExceeded.", rendered("job-1-failed-backoff-limit-exceeded")},
	{"running-job-deleted", "Step 0's Job was deleted while it ran.", rendered("running-job-deleted-fails-step")},
	{"failed-generation-lags", "The spec changed after a step failed; the controller has not observed it yet.", lagging("job-1-failed-backoff-limit-exceeded")},
	{"service-account-missing", "The next step's ServiceAccount is missing: the controller retries by itself.", rendered("service-account-missing-holds-next-step")},
	{"service-account-created", "The missing ServiceAccount exists again: the step runs.", rendered("resources-available-again-clears-condition")},
	{"reconciliation-error", "Creating the step's Job failed with an apiserver error: the controller retries by itself.", rendered("reconciliation-error-sets-failed-condition")},
	{"transient-error", "Creating the step's Job just failed with an apiserver error: retried, not yet reported as Failed.", rendered("transient-error-is-retried-not-failed")},
	{"shared-template-step-starting", "A step with the shared pod template starts.", rendered("shared-template-merged-into-job")},
	{"foreign-job-blocks", "A Job with step 0's name belongs to another controller: the run cannot start.", rendered("foreign-job-has-our-name")},
	// Edits mid-run, by step name.
	{"inserted-step-starts", "A step inserted before the running one starts once that one succeeds.", rendered("insert-before-running-step")},
	{"inserted-after-starts", "A step inserted after the running one starts next.", rendered("insert-after-running-step")},
	{"removed-step-still-running", "The running step was removed from the spec; it finishes.", rendered("remove-running-step")},
	{"removed-pending-step-succeeds", "The only pending step was removed; the run succeeds when the running one does.", rendered("remove-pending-step")},
	{"reordered-steps-run", "The pending steps were reordered; the next in the new order starts.", rendered("reorder-pending-steps")},
	{"renamed-step-starts", "A renamed step starts as a new step.", rendered("rename-running-step")},
	{"edit-after-success", "A step was appended to a finished run: final, the edit starts nothing.", rendered("append-to-finished-run")},
	{"re-added-step", "A step removed and re-added is not run twice; the next step starts.", rendered("re-added-step-does-not-run-twice")},
	{"job-without-status-entry", "A step's Job created just before a crash is recognised.", rendered("job-without-status-entry-is-recognised")},
	// Failing fast, and results that survive deletion.
	{"invalid-step", "A step the apiserver's dry-run rejects fails the run before anything runs.", rendered("dry-run-rejection-fails-run")},
	{"job-rejected", "The apiserver rejected a step's Job as invalid at creation.", rendered("job-create-rejected-fails-step")},
	{"invalid-edit-mid-run", "An edit added an invalid step while step 0 runs.", rendered("invalid-edit-mid-run-fails-run")},
	{"complete-job-deleted", "A Job deleted the moment it completed: its result is recorded, the next step starts.", rendered("complete-job-being-deleted-keeps-result")},
	{"running-job-being-deleted", "A running step's Job is being deleted.", rendered("running-job-being-deleted-fails-step")},
	{"finalizer-released", "A finished step's result is recorded; its Job's finalizer is released.", rendered("finalizer-released-once-result-recorded")},
	// Step controls.
	{"step-settings-step-starting", "A step with its own settings starts.", rendered("step-settings-override-job-spec")},
	{"step-template-step-starting", "A step merged over spec.stepTemplate starts.", rendered("step-template-env-merged-step-wins")},
	{"step-template-mounts-step-starting", "A step whose mounts and ports merge with spec.stepTemplate's starts.", rendered("step-template-volume-mounts-by-mount-path")},
	{"step-template-fields-step-starting", "A step whose resources and securityContext merge with spec.stepTemplate's starts.", rendered("step-template-fields-step-wins")},
	{"step-template-finally-starting", "Every step succeeded; the finally step, merged over spec.stepTemplate, runs.", rendered("step-template-reaches-finally-step")},
	{"step-template-edited-next-step", "spec.stepTemplate was added mid-run; the next step starts with it.", rendered("step-template-edit-applies-to-next-step")},
	{"allowed-failure-goes-on", "A step allowed to fail (onFailure: Continue) failed; the next one starts.", rendered("on-failure-continue-goes-on")},
	{"succeeded-with-allowed-failures", "Every step ran; the only failure was allowed.", rendered("on-failure-continue-run-succeeds")},
	{"suspended-mid-step", "spec.suspend holds the run while a step ran.", rendered("suspend-suspends-running-step")},
	{"suspended-between-steps", "spec.suspend holds the run between steps.", rendered("suspend-holds-next-step")},
	{"resumed", "spec.suspend was cleared: the step's Job resumes.", rendered("resume-restarts-suspended-step")},
	{"claims-step-0-starting", "The run's workspace claim is applied and step 0's Job, mounting it, is created.", rendered("claims-created-before-first-step")},
	{"claim-rejected", "The dry-run refused a workspace claim: the run failed before the step that mounts it.", rendered("claim-rejected-fails-run")},
	{"claims-deleted-succeeded", "Every step succeeded; the claims are deleted (whenFinished: Delete).", rendered("claims-deleted-when-run-succeeds")},
	{"claims-retained-succeeded", "Every step succeeded; the claims are kept (whenFinished: Retain).", rendered("claims-retained-when-run-succeeds")},
	{"retry-from-succeeded-run", "retryFrom with a new token re-opened a Succeeded run from its second step.", rendered("retry-from-second-step-of-succeeded-run")},
	{"retry-from-before-failed-step", "retryFrom with a new token re-opened a Failed run from a step before the failed one.", rendered("retry-from-earlier-than-failed-step")},
	{"retry-from-finally-again", "retryFrom re-ran the last step; the finally step waits to run again.", rendered("retry-from-runs-finally-again")},
	{"retry-from-without-token", "retryFrom set without a new token on a Succeeded run: nothing runs.", rendered("retry-from-set-without-new-token")},
	{"waiting-for-approval", "The run waits before a gated step (stepSettings approval: Required).", rendered("approval-gate-holds-run")},
	{"approved", "spec.approvedSteps released the gate: the step's Job is created.", rendered("approval-releases-gate")},
	{"run-deadline-passed", "spec.runDeadlineSeconds passed while step 1 ran.", rendered("run-deadline-stops-running-step")},
	{"run-deadline-ahead", "spec.runDeadlineSeconds has not passed.", rendered("run-deadline-not-passed-requeues")},
	{"run-deadline-after-suspension", "The run deadline, moved by a suspension, has not passed.", rendered("run-deadline-excludes-suspended-time")},
	{"finally-after-failure", "A step failed; the finally step runs.", rendered("finally-runs-after-failure")},
	{"finally-done-after-failure", "A step failed and the finally step ran: the run failed.", rendered("finally-after-failure-keeps-seed-failure")},
	{"finally-after-success", "Every step succeeded; the finally step runs.", rendered("finally-runs-after-success")},
	{"finally-failed", "Every step succeeded, then the finally step failed.", rendered("finally-failure-fails-run")},
	{"retrying", "A new retryToken re-runs the failed step.", rendered("retry-reruns-failed-step")},
	{"failed-token-seen", "A Failed run whose retryToken was seen before it failed.", rendered("retry-token-unchanged-run-stays-failed")},
	{"retry-ignored-after-success", "A new retryToken on a Succeeded run changes nothing.", rendered("retry-on-succeeded-run-is-ignored")},
	{"result-passed-on", "Step 0 wrote a result; step 1 starts with it.", rendered("result-recorded-and-passed-on")},
	{"result-truncated", "Step 0 wrote a result over 1 KiB.", rendered("long-result-truncated")},
	{"failed-exit-code", "Step 0's pod exited 3.", rendered("failure-detail-from-pod-exit-code")},
	{"failed-oom-killed", "Step 0's pod was OOMKilled.", rendered("failure-detail-oom-killed")},
	{"queued-created", "A step's Job was created suspended in its Kueue queue.", rendered("queued-step-created-suspended")},
	{"queued-waiting", "A step's Job waits for admission by Kueue.", rendered("queued-step-waits")},
	{"queued-admitted", "Kueue admitted the step's Job: it runs.", rendered("queued-step-admitted-runs")},
	{"queued-deadline-ahead", "The run deadline, which queue wait does not count, has not passed.", rendered("queue-wait-not-counted-in-deadline")},
	{"multikueue-step-done", "MultiKueue ran step 0 on a worker; the next step starts.", rendered("multikueue-step-has-no-pods-here")},
	{"ttl-expired", "The finished run's ttlSecondsAfterFinished passed: it is being deleted.", rendered("ttl-deletes-finished-run")},
	{"ttl-ahead", "The finished run waits for its ttlSecondsAfterFinished.", rendered("ttl-waits-until-expiry")},
}

// toUnstructured converts the typed object the way a client sees it: its
// JSON, with the apiVersion and kind set.
func toUnstructured(t *testing.T, sj *v1alpha1.SequentialJob) *unstructured.Unstructured {
	t.Helper()
	sj = sj.DeepCopy()
	sj.APIVersion = v1alpha1.GroupVersion.String()
	sj.Kind = "SequentialJob"
	data, err := yaml.Marshal(sj)
	require.NoError(t, err)
	u := &unstructured.Unstructured{}
	// Decode through JSON, as a client does: integers become int64.
	jsonData, err := yaml.YAMLToJSON(data)
	require.NoError(t, err)
	require.NoError(t, runtime.DecodeInto(unstructured.UnstructuredJSONScheme, jsonData, u))
	return u
}

// loadRenderCase reads render/testdata/<name>.
func loadRenderCase(t *testing.T, name string) fixtures.RenderCase {
	t.Helper()
	c, err := fixtures.LoadRenderCase(filepath.Join(testenv.Root(), "render", "testdata", name))
	require.NoError(t, err)
	return c
}
