package render_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestRenderGolden renders every case in testdata/ and compares the whole
// output with want.yaml. Each case also checks, in code, the one property it
// exists for, so that a wrong golden file cannot pass unnoticed.
func TestRenderGolden(t *testing.T) {
	cases := map[string]struct {
		reason string
		check  func(t *testing.T, got render.Desired)
	}{
		"claims-created-before-first-step": {
			reason: "Before step 0 the run's claim is applied as <run>-<name>, labelled and owned like a Job; the steps that mount it get a persistentVolumeClaim volume, the others none.",
			check: func(t *testing.T, got render.Desired) {
				require.Len(t, got.Claims, 1)
				assert.Equal(t, "pipeline-workspace", *got.Claims[0].Name)
				require.NotNil(t, got.Job)
				require.Len(t, got.Job.Spec.Template.Spec.Volumes, 1)
				assert.Equal(t, "pipeline-workspace", *got.Job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
				assert.Empty(t, got.DeleteClaims)
			},
		},
		"claim-rejected-fails-run": {
			reason: "A claim the apiserver rejects in the dry-run fails the step that mounts it, and so the run, before step 0: InvalidStep, no claim, no Job.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Empty(t, got.Claims)
				assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Phase)
				assert.Equal(t, v1alpha1.ReasonInvalidStep, got.Status.Steps[1].Reason)
			},
		},
		"claims-deleted-when-run-succeeds": {
			reason: "The run finishes: with whenFinished Delete (the default) its claims are deleted, before the terminal status is written.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assert.Equal(t, []string{"pipeline-workspace"}, got.DeleteClaims)
			},
		},
		"claims-retained-when-run-succeeds": {
			reason: "With whenFinished Retain a finished run keeps its claims, until the SequentialJob goes.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assert.Empty(t, got.DeleteClaims)
			},
		},
		"fresh-creates-job-0": {
			reason: "The seed's example, never reconciled, creates the Job of its first step.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "example-job-sequence-0", *got.Job.Name)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Equal(t, "0/1", got.Status.Progress.Summary)
				assertEvents(t, got, v1alpha1.EventStepStarted)
			},
		},
		"job-0-running-waits": {
			reason: "While step 0's Job runs, nothing is created and nothing is written.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.False(t, got.StatusChanged())
				assert.Empty(t, got.Events)
			},
		},
		"job-0-complete-creates-job-1": {
			reason: "Once step 0's Job is Complete, step 1's Job is created.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-1", *got.Job.Name)
				assert.Equal(t, []int32{0}, got.Status.Progress.CompletedIndices)
				assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted)
			},
		},
		"job-1-failed-backoff-limit-exceeded": {
			reason: "Step 1's Job Failed with BackoffLimitExceeded: the seed's failed status, to the letter, and step 2 never starts.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
				require.NotNil(t, failed)
				assert.Equal(t, metav1.ConditionTrue, failed.Status)
				assert.Equal(t, "JobFailed", failed.Reason)
				assert.Equal(t, "Job 1 failed: BackoffLimitExceeded", failed.Message)
				assert.Equal(t, v1alpha1.ExecutionState{Active: 0, Succeeded: 1, Failed: 1}, got.Status.State)
				assert.Equal(t, int32(1), got.Status.Progress.CurrentIndex)
				assert.Equal(t, []int32{0}, got.Status.Progress.CompletedIndices)
				assert.Equal(t, ptr.To[int32](1), got.Status.Progress.FailedIndex)
				assert.Equal(t, "BackoffLimitExceeded", got.Status.Progress.FailureReason)
				assertEvents(t, got, v1alpha1.ReasonJobFailed)
			},
		},
		"all-complete-run-succeeds": {
			reason: "When the last Job is Complete, the run is Succeeded and Available.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assert.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionAvailable))
				assert.True(t, meta.IsStatusConditionFalse(got.Status.Conditions, v1alpha1.ConditionProgressing))
				assert.Nil(t, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling))
				assert.NotNil(t, got.Status.CompletionTime)
				assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted)
			},
		},
		"success-criteria-met-is-not-terminal": {
			reason: "SuccessCriteriaMet alone does not end a step: its pods may still be terminating.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[0].Phase)
				assert.False(t, got.StatusChanged())
			},
		},
		"failure-target-is-not-terminal": {
			reason: "FailureTarget alone does not end a step: its pods may still be terminating.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[0].Phase)
				assert.False(t, got.StatusChanged())
			},
		},
		"spec-changed-while-step-running": {
			reason: "A spec change mid-run warns, bumps observedGeneration and leaves the running Job alone.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job, "the running Job is never re-rendered")
				assert.Equal(t, int64(2), got.Status.ObservedGeneration)
				assertEvents(t, got, v1alpha1.EventSpecChanged)
			},
		},
		"spec-changed-next-step-uses-new-spec": {
			reason: "After a spec change, the next step's Job is rendered from the new spec.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				container := got.Job.Spec.Template.Spec.Containers[0]
				assert.Equal(t, []string{"echo test v2"}, container.Args)
				assert.Equal(t, "2", got.Job.Annotations[v1alpha1.AnnotationSpecGeneration])
			},
		},
		"finished-job-deleted-is-not-recreated": {
			reason: "A finished step's result survives its Job's deletion, and its Job is not created again.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
				assert.False(t, got.StatusChanged())
			},
		},
		"foreign-job-has-our-name": {
			reason: "A Job with our name but another controller is a condition, never a takeover.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.True(t, got.Requeue.Look == render.LookPoll)
				progressing := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionProgressing)
				require.NotNil(t, progressing)
				assert.Equal(t, v1alpha1.ReasonJobNameConflict, progressing.Reason)
				assertEvents(t, got, v1alpha1.ReasonJobNameConflict)
			},
		},
		"running-job-deleted-fails-step": {
			reason: "A started step whose Job vanished (the reconciler confirms it with a live read before rendering) fails as JobDeleted, and is not run twice.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, "Job 0 failed: JobDeleted", meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed).Message)
			},
		},
		"shared-template-merged-into-job": {
			reason: "The shared template, backoffLimit and activeDeadlineSeconds reach the step's Job; the step container is its only container.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				spec := got.Job.Spec
				assert.Equal(t, ptr.To[int32](2), spec.BackoffLimit)
				assert.Equal(t, ptr.To[int64](600), spec.ActiveDeadlineSeconds)
				require.Len(t, spec.Template.Spec.Containers, 1)
				assert.Equal(t, "build", *spec.Template.Spec.Containers[0].Name)
				assert.Equal(t, "runner", *spec.Template.Spec.ServiceAccountName)
				assert.Equal(t, "data", spec.Template.Labels["team"])
			},
		},
		"step-template-env-merged-step-wins": {
			reason: "spec.stepTemplate's env and envFrom reach every step: env by name, the step's entry winning whole and in the template's place; envFrom the template's sources, then the step's.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				c := got.Job.Spec.Template.Spec.Containers[0]
				var env []string
				for _, e := range c.Env {
					env = append(env, *e.Name)
				}
				assert.Equal(t, []string{"STAGE", "TOKEN", "URL", "TARGET"}, env)
				assert.Equal(t, "build-only", *c.Env[1].Value)
				assert.Nil(t, c.Env[1].ValueFrom, "the step's value replaces the template's valueFrom: a variable has one or the other")
				require.Len(t, c.EnvFrom, 3)
				assert.Equal(t, "shared", *c.EnvFrom[0].ConfigMapRef.Name)
				assert.Equal(t, "build", *c.EnvFrom[1].ConfigMapRef.Name)
				assert.Equal(t, "defaults", *c.EnvFrom[2].SecretRef.Name)
				assert.Nil(t, c.EnvFrom[2].SecretRef.Optional, "the step's copy of a source the template lists too wins")
			},
		},
		"step-template-volume-mounts-by-mount-path": {
			reason: "volumeMounts merge by mountPath, volumeDevices by devicePath, ports by containerPort and protocol; the step's entry wins whole.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				c := got.Job.Spec.Template.Spec.Containers[0]
				require.Len(t, c.VolumeMounts, 3)
				assert.Equal(t, "scratch", *c.VolumeMounts[0].Name)
				assert.Equal(t, "/work", *c.VolumeMounts[0].MountPath)
				assert.Nil(t, c.VolumeMounts[0].ReadOnly, "the template's readOnly belongs to its entry, which the step's replaced")
				assert.Equal(t, "/cache", *c.VolumeMounts[1].MountPath)
				assert.Equal(t, "/root/.cache", *c.VolumeMounts[2].MountPath)
				require.Len(t, c.VolumeDevices, 1)
				var ports []string
				for _, p := range c.Ports {
					ports = append(ports, *p.Name)
				}
				assert.Equal(t, []string{"prom", "dns", "dns-tcp"}, ports, "9090 (TCP when unset) is the step's; UDP 53 and TCP 53 are two ports")
			},
		},
		"step-template-fields-step-wins": {
			reason: "Other fields: the step's own wins; resources and securityContext merge field by field; command comes from the template when the step has none.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				c := got.Job.Spec.Template.Spec.Containers[0]
				assert.Equal(t, []string{"sh", "-c"}, c.Command)
				assert.Equal(t, []string{"go build ./..."}, c.Args)
				assert.Equal(t, "/src/app", *c.WorkingDir)
				assert.Equal(t, corev1.PullIfNotPresent, *c.ImagePullPolicy)
				assert.Equal(t, "100m", ptr.To((*c.Resources.Requests)[corev1.ResourceCPU]).String())
				assert.Equal(t, "128Mi", ptr.To((*c.Resources.Requests)[corev1.ResourceMemory]).String())
				assert.Equal(t, "256Mi", ptr.To((*c.Resources.Limits)[corev1.ResourceMemory]).String())
				assert.Equal(t, ptr.To[int64](1000), c.SecurityContext.RunAsUser)
				assert.Equal(t, ptr.To(true), c.SecurityContext.RunAsNonRoot)
				assert.Equal(t, ptr.To(false), c.SecurityContext.AllowPrivilegeEscalation)
			},
		},
		"step-template-reaches-finally-step": {
			reason: "Finally steps get spec.stepTemplate as the steps do, their own fields winning.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-f0", *got.Job.Name)
				c := got.Job.Spec.Template.Spec.Containers[0]
				require.Len(t, c.Env, 2)
				assert.Equal(t, "cleanup", *c.Env[0].Value)
				assert.Equal(t, "data", *c.Env[1].Value)
				assert.Equal(t, "100m", ptr.To((*c.Resources.Requests)[corev1.ResourceCPU]).String())
			},
		},
		"step-template-edit-applies-to-next-step": {
			reason: "A stepTemplate added mid-run reaches the steps not yet started, by name; the running step's Job is not re-rendered.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-1", *got.Job.Name)
				c := got.Job.Spec.Template.Spec.Containers[0]
				require.Len(t, c.Env, 1)
				assert.Equal(t, "LOG_LEVEL", *c.Env[0].Name)
				assert.Equal(t, "2", got.Job.Annotations[v1alpha1.AnnotationSpecGeneration])
			},
		},
		"service-account-missing-holds-next-step": {
			reason: "A missing ServiceAccount holds the next step Pending with ResourcesUnavailable; finished steps are still recorded.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhasePending, got.Status.Steps[1].Phase)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
				unavailable := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionResourcesUnavailable)
				require.NotNil(t, unavailable)
				assert.Equal(t, "ServiceAccountNotFound", unavailable.Reason)
				assert.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReconciling), "kstatus keeps it InProgress: it recovers by itself")
				assert.Nil(t, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled))
				assertEvents(t, got, v1alpha1.EventStepSucceeded, "ServiceAccountNotFound")
			},
		},
		"resources-available-again-clears-condition": {
			reason: "Once the cause is fixed, the next step starts and ResourcesUnavailable is removed.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Nil(t, meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionResourcesUnavailable))
			},
		},
		"transient-error-is-retried-not-failed": {
			reason: "An apiserver error younger than ErrorGracePeriod is retried: Progressing says so, Failed stays False, and no Warning event is posted, so one hiccup ends no `kubectl wait --for=condition=Failed`.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
				require.NotNil(t, failed)
				assert.Equal(t, metav1.ConditionFalse, failed.Status)
				progressing := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionProgressing)
				require.NotNil(t, progressing)
				assert.Equal(t, metav1.ConditionTrue, progressing.Status)
				assert.Equal(t, v1alpha1.ReasonRetrying, progressing.Reason)
				assert.Equal(t, "step 0 (step1) is waiting: the controller retries an error of the apiserver (reported as Failed if it persists for 30s): "+
					"Failed to reconcile: creating the step's Job: etcdserver: request timed out", progressing.Message)
				assert.Equal(t, render.LookBackoff, got.Requeue.Look)
				assertEvents(t, got)
			},
		},
		"reconciliation-error-sets-failed-condition": {
			reason: "An unexpected apiserver error that persisted for ErrorGracePeriod (35 s here) is the seed's Failed condition with reason ReconciliationError and a ReconciliationFailed Warning event.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
				require.NotNil(t, failed)
				assert.Equal(t, metav1.ConditionTrue, failed.Status)
				assert.Equal(t, "ReconciliationError", failed.Reason)
				assert.Equal(t, "Failed to reconcile: creating the step's Job: etcdserver: request timed out", failed.Message)
				assert.NotEqual(t, v1alpha1.PhaseFailed, got.Status.Phase, "the run itself has not failed")
				assert.Equal(t, render.LookBackoff, got.Requeue.Look)
				assertEvents(t, got, v1alpha1.EventReconciliationFailed)
			},
		},
		"insert-before-running-step": {
			reason: "Spec [a b c] with a done and b running becomes [x a b c]: once b completes, x starts next as Job pipeline-2; b never runs again.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-2", *got.Job.Name)
				assert.Equal(t, "x", got.Job.Labels[v1alpha1.LabelStepName])
				assert.Equal(t, []string{"a", "b", "x", "c"}, stepNames(got))
				assert.Equal(t, "2/4", got.Status.Progress.Summary)
				assertEvents(t, got, v1alpha1.EventSpecChanged, v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted)
			},
		},
		"insert-after-running-step": {
			reason: "Spec [a b c] with b running becomes [a b y c]: once b completes, y starts before c.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "y", got.Job.Labels[v1alpha1.LabelStepName])
				assert.Equal(t, []string{"a", "b", "y", "c"}, stepNames(got))
			},
		},
		"remove-running-step": {
			reason: "Spec [a b c] with b running becomes [a c]: b finishes and keeps its record; c is still pending.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job, "nothing starts while b runs")
				assert.Equal(t, []string{"a", "b", "c"}, stepNames(got))
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[1].Phase)
				assert.Equal(t, v1alpha1.PhasePending, got.Status.Steps[2].Phase)
				assertEvents(t, got, v1alpha1.EventSpecChanged)
			},
		},
		"remove-pending-step": {
			reason: "Spec [a b c] with b running becomes [a b]: when b completes the run succeeds; c never runs.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, []string{"a", "b"}, stepNames(got))
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assert.Equal(t, "all 2 steps succeeded", meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionAvailable).Message)
			},
		},
		"reorder-pending-steps": {
			reason: "Spec [a b c d] with b running becomes [a b d c]: the remaining steps run in the new order.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "d", got.Job.Labels[v1alpha1.LabelStepName])
				assert.Equal(t, []string{"a", "b", "d", "c"}, stepNames(got))
			},
		},
		"rename-running-step": {
			reason: "A rename is a removal plus an addition: b (running) finishes, then b2 starts; b never runs again.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "b2", got.Job.Labels[v1alpha1.LabelStepName])
				assert.Equal(t, []string{"a", "b", "b2", "c"}, stepNames(got))
			},
		},
		"append-to-finished-run": {
			reason: "A finished run is final: appending a step to a Succeeded run starts nothing, observedGeneration follows the edit, and a warning says so.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assert.Equal(t, []string{"a", "b"}, stepNames(got))
				assert.Equal(t, int64(2), got.Status.ObservedGeneration)
				assertEvents(t, got, v1alpha1.EventSpecChanged)
			},
		},
		"re-added-step-does-not-run-twice": {
			reason: "b was removed while running and re-added before it finished: once it completes, c starts, and b is not pending again.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "c", got.Job.Labels[v1alpha1.LabelStepName])
				assert.Equal(t, []string{"a", "b", "c"}, stepNames(got))
			},
		},
		"job-without-status-entry-is-recognised": {
			reason: "The controller created b's Job and crashed before writing status: the Job's labels name its step, so b is Running, nothing is created, and b's start is announced once now.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[1].Phase)
				assert.Equal(t, "pipeline-1", got.Status.Steps[1].JobName)
				assert.Equal(t, []string{"a", "b", "c"}, stepNames(got))
				assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted)
			},
		},
		"dry-run-rejection-fails-run": {
			reason: "A step the apiserver rejects in a server-side dry-run fails the run before step 0 starts: InvalidStep, Stalled, the apiserver's words, no Job.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				fixtures.RequireRunFailedFast(t, got.Status, v1alpha1.ReasonInvalidStep,
					"step 1 (migrate) is invalid", "spec.template.spec.containers[0].image: Required value")
				assert.Equal(t, ptr.To[int32](1), got.Status.Progress.FailedIndex)
				assert.Zero(t, got.Status.State.Active)
				assertEvents(t, got, v1alpha1.ReasonInvalidStep)
			},
		},
		"job-create-rejected-fails-step": {
			reason: "A Job create the apiserver rejects as invalid fails that step with JobRejected: no retry loop.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				fixtures.RequireRunFailedFast(t, got.Status, v1alpha1.ReasonJobRejected, "step 1 (b) failed: the apiserver rejected its Job pipeline-1")
				assert.Equal(t, v1alpha1.ReasonJobRejected, got.Status.Steps[1].Reason)
				assert.Nil(t, got.Requeue.Problem, "nothing to retry")
			},
		},
		"complete-job-being-deleted-keeps-result": {
			reason: "A Job deleted the moment it completed is held by the step-result finalizer: its step is Succeeded and then the finalizer is released.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
				assert.Equal(t, []string{"pipeline-0"}, got.Release)
				require.NotNil(t, got.Job, "the next step starts")
			},
		},
		"running-job-being-deleted-fails-step": {
			reason: "A Job deleted before it finished fails its step as JobDeleted, and the finalizer is released so the deletion completes.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.ReasonJobDeleted, got.Status.Steps[0].Reason)
				assert.Equal(t, []string{"pipeline-0"}, got.Release)
			},
		},
		"invalid-edit-mid-run-fails-run": {
			reason: "An edit that adds an invalid step while step 0 runs fails the run at once; step 0's Job is left to finish and nothing else starts.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Phase)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[0].Phase)
				assert.Equal(t, ptr.To[int32](2), got.Status.Progress.FailedIndex)
			},
		},
		"finalizer-released-once-result-recorded": {
			reason: "A finished step's Job keeps the step-result finalizer only until status records the result.",
			check: func(t *testing.T, got render.Desired) {
				assert.False(t, got.StatusChanged())
				assert.Equal(t, []string{"pipeline-0"}, got.Release)
			},
		},
		"step-settings-override-job-spec": {
			reason: "A step's settings override the run-wide ones in its Job; the run-wide podFailurePolicy applies where a step sets none.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				spec := got.Job.Spec
				assert.Equal(t, ptr.To[int32](0), spec.BackoffLimit)
				assert.Equal(t, ptr.To[int64](30), spec.ActiveDeadlineSeconds)
				require.Len(t, spec.PodFailurePolicy.Rules, 1)
				assert.Equal(t, []int32{42}, spec.PodFailurePolicy.Rules[0].OnExitCodes.Values)
			},
		},
		"on-failure-continue-goes-on": {
			reason: "A step with onFailure: Continue that fails is recorded Failed and the next step starts.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-2", *got.Job.Name)
				assert.Equal(t, v1alpha1.PhaseFailed, got.Status.Steps[1].Phase)
				assert.Equal(t, v1alpha1.OnFailureContinue, got.Status.Steps[1].OnFailure)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
			},
		},
		"on-failure-continue-run-succeeds": {
			reason: "A run whose only failures were allowed succeeds, and names them.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				available := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionAvailable)
				assert.Equal(t, v1alpha1.ReasonCompletedWithFailures, available.Reason)
				assert.Contains(t, available.Message, "1 failed and was allowed to (onFailure: Continue): test")
				assert.Equal(t, int32(1), got.Status.State.Failed)
			},
		},
		"suspend-suspends-running-step": {
			reason: "spec.suspend while a step runs suspends its Job; the run is Suspended, with a condition and an event.",
			check: func(t *testing.T, got render.Desired) {
				require.Len(t, got.JobControls, 1)
				assert.Equal(t, "pipeline-0", *got.JobControls[0].Name)
				assert.Equal(t, ptr.To(true), got.JobControls[0].Spec.Suspend)
				assert.Equal(t, v1alpha1.PhaseSuspended, got.Status.Phase)
				assert.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionSuspended))
				assert.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReconciling), "kstatus must not read it as Current")
				assert.NotNil(t, got.Status.SuspendTime)
				assertEvents(t, got, v1alpha1.ReasonSuspended)
			},
		},
		"suspend-holds-next-step": {
			reason: "A suspended run starts no new step.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseSuspended, got.Status.Phase)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
			},
		},
		"resume-restarts-suspended-step": {
			reason: "Clearing spec.suspend resumes the same step's Job, and the time suspended moves the active-time clock.",
			check: func(t *testing.T, got render.Desired) {
				require.Len(t, got.JobControls, 1)
				assert.Equal(t, ptr.To(false), got.JobControls[0].Spec.Suspend)
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Nil(t, got.Status.SuspendTime)
				// Suspended from 03:01:00 to 03:04:05.
				assert.Equal(t, time.Date(2026, 1, 2, 3, 3, 5, 0, time.UTC), got.Status.ActiveStartTime.UTC())
				assertEvents(t, got, v1alpha1.EventResumed)
			},
		},
		"run-deadline-stops-running-step": {
			reason: "When runDeadlineSeconds passes, the running step's Job is stopped and the run fails with DeadlineExceeded, naming the step.",
			check: func(t *testing.T, got render.Desired) {
				require.Len(t, got.JobControls, 1)
				assert.Equal(t, "pipeline-1", *got.JobControls[0].Name)
				assert.Equal(t, ptr.To[int64](1), got.JobControls[0].Spec.ActiveDeadlineSeconds)
				fixtures.RequireRunFailedFast(t, got.Status, v1alpha1.ReasonDeadlineExceeded, "the run stopped at step 1 (test), which was running")
				assert.Equal(t, v1alpha1.ReasonDeadlineExceeded, got.Status.Progress.FailureReason)
				assert.Equal(t, []string{"pipeline-1"}, got.Release)
			},
		},
		"run-deadline-not-passed-requeues": {
			reason: "Before the run deadline, the run asks to be looked at again when it passes.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, 5*time.Minute+55*time.Second, got.Requeue.After)
				assert.False(t, got.StatusChanged())
			},
		},
		"run-deadline-excludes-suspended-time": {
			reason: "Time suspended does not count: a 240s deadline from 03:00 with 2 minutes suspended passes at 03:06, not 03:04.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Equal(t, time.Minute+55*time.Second, got.Requeue.After)
			},
		},
		"finally-runs-after-failure": {
			reason: "A failed step ends the steps; the finally step starts, and the run is Running until it ends.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-f0", *got.Job.Name)
				assert.Equal(t, "true", got.Job.Labels[v1alpha1.LabelFinally])
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.True(t, got.Status.Progress.InFinally)
				assert.False(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionFailed), "not Failed until finally ends")
				progressing := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionProgressing)
				assert.Equal(t, v1alpha1.ReasonFinallyRunning, progressing.Reason)
			},
		},
		"finally-after-failure-keeps-seed-failure": {
			reason: "Once finally ends, the run fails with the seed's exact message for the failed step.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				fixtures.RequireRunFailed(t, got.Status, v1alpha1.ReasonJobFailed, "BackoffLimitExceeded", "Job 1 failed: BackoffLimitExceeded")
				assert.Equal(t, ptr.To[int32](1), got.Status.Progress.FailedIndex)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Finally[0].Phase)
			},
		},
		"finally-runs-after-success": {
			reason: "Once every step succeeded, the finally step starts.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-f0", *got.Job.Name)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
			},
		},
		"finally-failure-fails-run": {
			reason: "A failing finally step fails a run whose steps succeeded.",
			check: func(t *testing.T, got render.Desired) {
				fixtures.RequireRunFailed(t, got.Status, v1alpha1.ReasonFinallyFailed, "BackoffLimitExceeded", "finally step 0 (cleanup) failed")
				assert.Nil(t, got.Status.Progress.FailedIndex)
			},
		},
		"retry-reruns-failed-step": {
			reason: "A new retryToken re-runs the Failed run from its failed step, as attempt 2 with a new Job; the step that succeeded does not run again.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-1-r2", *got.Job.Name)
				assert.Equal(t, "2", got.Job.Labels[v1alpha1.LabelStepAttempt])
				step := got.Status.Steps[1]
				assert.Equal(t, int32(2), step.Attempt)
				require.Len(t, step.PreviousAttempts, 1)
				assert.Equal(t, "pipeline-1", step.PreviousAttempts[0].JobName)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
				assert.Equal(t, int32(2), got.Status.Attempt)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.False(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionFailed))
				assert.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionProgressing))
				assertEvents(t, got, v1alpha1.EventRetry, v1alpha1.EventStepStarted)
			},
		},
		"retry-token-unchanged-run-stays-failed": {
			reason: "A token set before the run failed was already seen: the Failed run is final.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.False(t, got.StatusChanged())
				assert.Empty(t, got.Events)
			},
		},
		"retry-on-succeeded-run-is-ignored": {
			reason: "A new token on a Succeeded run starts nothing; it is recorded and a warning says so.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, "again", got.Status.RetryToken)
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Phase)
				assertEvents(t, got, v1alpha1.EventRetryIgnored)
			},
		},
		"result-recorded-and-passed-on": {
			reason: "A finished step's termination message is its result; the next step reads it from SQJ_RESULT_BUILD through a pod annotation.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, "sha256:4f1c0de", got.Status.Steps[0].Result)
				require.NotNil(t, got.Job)
				template := got.Job.Spec.Template
				assert.Equal(t, "sha256:4f1c0de", template.Annotations[v1alpha1.ResultAnnotationPrefix+"build"])
				env := template.Spec.Containers[0].Env
				require.NotEmpty(t, env)
				assert.Equal(t, "SQJ_RESULT_BUILD", *env[0].Name)
				assert.Equal(t, "metadata.annotations['results.batch.example.com/build']", *env[0].ValueFrom.FieldRef.FieldPath)
			},
		},
		"long-result-truncated": {
			reason: "A result over 1024 bytes is cut, with a marker.",
			check: func(t *testing.T, got render.Desired) {
				result := got.Status.Steps[0].Result
				assert.Len(t, result, v1alpha1.MaxResultLength)
				assert.True(t, strings.HasSuffix(result, "...[truncated]"))
			},
		},
		"failure-detail-from-pod-exit-code": {
			reason: "A failed step's message says how its pod ended; the Failed condition keeps the seed's text.",
			check: func(t *testing.T, got render.Desired) {
				assert.Contains(t, got.Status.Steps[0].Message, "exited with code 3")
				fixtures.RequireRunFailed(t, got.Status, v1alpha1.ReasonJobFailed, "BackoffLimitExceeded", "Job 0 failed: BackoffLimitExceeded")
				failed := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionFailed)
				assert.Equal(t, "Job 0 failed: BackoffLimitExceeded", failed.Message)
			},
		},
		"failure-detail-oom-killed": {
			reason: "An OOMKilled container is named as such in the step's message.",
			check: func(t *testing.T, got render.Desired) {
				assert.Contains(t, got.Status.Steps[0].Message, "was OOMKilled (exit code 137)")
			},
		},
		"ttl-deletes-finished-run": {
			reason: "Once ttlSecondsAfterFinished has passed, the SequentialJob is deleted, with an event.",
			check: func(t *testing.T, got render.Desired) {
				assert.True(t, got.Requeue.Look == render.LookDelete)
				assertEvents(t, got, v1alpha1.EventExpired)
			},
		},
		"ttl-waits-until-expiry": {
			reason: "Before ttlSecondsAfterFinished passes, the run asks to be looked at again then.",
			check: func(t *testing.T, got render.Desired) {
				assert.False(t, got.Requeue.Look == render.LookDelete)
				assert.Equal(t, 6*time.Minute+55*time.Second, got.Requeue.After)
			},
		},
		"queued-step-created-suspended": {
			reason: "With a kueue.x-k8s.io/queue-name label, each step's Job is created suspended in that queue, with the priority label: the step is Queued.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				job := got.Job
				assert.Equal(t, ptr.To(true), job.Spec.Suspend)
				assert.Equal(t, "team-a", job.Labels[v1alpha1.LabelQueueName])
				assert.Equal(t, "batch-low", job.Labels[v1alpha1.LabelPriorityClass])
				assert.Equal(t, v1alpha1.PhaseQueued, got.Status.Steps[0].Phase)
				assert.Equal(t, v1alpha1.PhaseQueued, got.Status.Phase)
				assertEvents(t, got, v1alpha1.EventStepStarted, v1alpha1.ReasonQueued)
			},
		},
		"queued-step-waits": {
			reason: "A step's Job that Kueue holds suspended is Queued, not Running; nothing changes while it waits.",
			check: func(t *testing.T, got render.Desired) {
				assert.False(t, got.StatusChanged())
				assert.Empty(t, got.JobControls, "the controller never unsuspends a queued Job: Kueue does")
				assert.Zero(t, got.Status.State.Active)
			},
		},
		"queued-step-admitted-runs": {
			reason: "Once Kueue unsuspends the Job, the step is Running, with a StepAdmitted event.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Steps[0].Phase)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Nil(t, got.Status.QueueTime)
				assertEvents(t, got, v1alpha1.EventStepAdmitted)
			},
		},
		"queue-wait-not-counted-in-deadline": {
			reason: "Queue wait does not count against runDeadlineSeconds: 120s from admission at 03:03, not from creation at 03:00.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Equal(t, 55*time.Second, got.Requeue.After)
			},
		},
		"approval-gate-holds-run": {
			reason: "The gated step's turn came: no Job, phase Waiting, AwaitingApproval True naming it, one event; the run deadline is not looked at while it waits.",
			check: func(t *testing.T, got render.Desired) {
				assert.Nil(t, got.Job)
				assert.Equal(t, v1alpha1.PhaseWaiting, got.Status.Phase)
				assert.Equal(t, v1alpha1.ReasonAwaitingApproval, got.Status.Steps[1].Reason)
				assert.NotNil(t, got.Status.ApprovalWaitTime)
				assert.Zero(t, got.Requeue.After)
				assertEvents(t, got, v1alpha1.EventStepSucceeded, v1alpha1.ReasonAwaitingApproval)
			},
		},
		"approval-releases-gate": {
			reason: "spec.approvedSteps lists the step: its Job is created, Approved event; the wait moved the active start, so the deadline requeue is 300s minus the one active minute.",
			check: func(t *testing.T, got render.Desired) {
				require.NotNil(t, got.Job)
				assert.Equal(t, "pipeline-1", *got.Job.Name)
				assert.Equal(t, v1alpha1.PhaseRunning, got.Status.Phase)
				assert.Nil(t, got.Status.ApprovalWaitTime)
				assertEvents(t, got, v1alpha1.EventStepStarted, v1alpha1.EventApproved)
			},
		},
		"multikueue-step-has-no-pods-here": {
			reason: "A step MultiKueue ran on a worker cluster ends with its mirrored status; its pods are not here, and the step says so instead of a result.",
			check: func(t *testing.T, got render.Desired) {
				assert.Equal(t, v1alpha1.PhaseSucceeded, got.Status.Steps[0].Phase)
				assert.Contains(t, got.Status.Steps[0].Message, "ran under kueue.x-k8s.io/multikueue")
				require.NotNil(t, got.Job)
				assert.Equal(t, ptr.To(v1alpha1.ManagedByMultiKueue), got.Job.Spec.ManagedBy)
			},
		},
	}
	maps.Copy(cases, whenGoldenCases)
	maps.Copy(cases, retryFromGoldenCases)
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	for _, e := range entries {
		if !fixtures.IsRenderCase(e) {
			continue
		}
		assert.Contains(t, cases, e.Name(), "testdata/%s has no case in this table: every golden case states what it is for", e.Name())
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			c, err := fixtures.LoadRenderCase(filepath.Join("testdata", name))
			require.NoError(t, err)
			before := c.SequentialJob.DeepCopy()
			got := c.Render(goldenNow)
			if diff := cmp.Diff(before, c.SequentialJob); diff != "" {
				t.Fatalf("Render modified its input:\n%s", diff)
			}
			assertGolden(t, name, got)
			tc.check(t, got)
		})
	}
}

func stepNames(got render.Desired) []string {
	var out []string
	for _, s := range got.Status.Steps {
		out = append(out, s.Name)
	}
	return out
}

func assertEvents(t *testing.T, got render.Desired, reasons ...string) {
	t.Helper()
	var have []string
	for _, e := range got.Events {
		have = append(have, e.Reason)
	}
	assert.Equal(t, reasons, have)
}

// TestStepLimit: edits can keep adding steps to a running run, but one run
// starts at most MaxStartedSteps; the step after that fails the run with
// StepLimitExceeded and no Job, instead of a record and Job names that grow
// without end.
func TestStepLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := fixtures.MakeSequentialJob("default", "long")
	for i := range v1alpha1.MaxStartedSteps {
		w.Step(fmt.Sprintf("s%d", i), "busybox")
	}
	sj := w.Obj()
	sj.UID, sj.Generation = "uid", 1
	var jobs []batchv1.Job
	// Run every step but the last through render, as the controller would.
	for i := 0; i < v1alpha1.MaxStartedSteps; i++ {
		d := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
		require.NotNil(t, d.Job, "step %d starts", i)
		sj.Status = d.Status
		job := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: *d.Job.Name, Namespace: "default", Labels: d.Job.Labels,
			OwnerReferences: []metav1.OwnerReference{{UID: sj.UID, Controller: ptr.To(true), Kind: "SequentialJob", Name: sj.Name}}}}
		if i < v1alpha1.MaxStartedSteps-1 {
			job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}
		jobs = append(jobs, job)
	}
	// The last step runs; an edit replaces the finished steps with a new one.
	sj.Spec.Containers = append(sj.Spec.Containers[v1alpha1.MaxStartedSteps-1:], corev1.Container{Name: "one-too-many", Image: "busybox"})
	sj.Generation = 2
	jobs[len(jobs)-1].Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}

	got := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
	assert.Nil(t, got.Job)
	fixtures.RequireRunFailedFast(t, got.Status, v1alpha1.ReasonStepLimitExceeded, "step 64 (one-too-many) cannot start")
	assert.Len(t, got.Status.Steps, v1alpha1.MaxStartedSteps+1)
	assert.Equal(t, int32(v1alpha1.MaxStartedSteps), got.Status.State.Succeeded)
}
