package e2e

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// TestEditsMidRunRunEachStepOnce replays the two edits that used to run a
// step twice or skip one, on real Jobs and pods, and counts the steps that
// ran from the Jobs' step labels.
func TestEditsMidRunRunEachStepOnce(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		reason  string
		edit    []string
		wantRan []string
	}{
		"insert-before": {
			reason:  "[a b c] with a done and b running becomes [x a b c]: x runs after b, b runs once.",
			edit:    []string{"x", "a", "b", "c"},
			wantRan: []string{"a", "b", "x", "c"},
		},
		"remove-running": {
			reason:  "[a b c] with b running becomes [a c]: b finishes, c still runs.",
			edit:    []string{"a", "c"},
			wantRan: []string{"a", "b", "c"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Log(tc.reason)
			ns := newNamespace(t)
			jobs := recordJobs(t, ns)
			createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a", "b", "c").
				Duration("500ms").StepDuration("b", "10s").Obj())
			waitForSJ(t, ns, name, "step 1 (b) to run", func(sj *v1alpha1.SequentialJob) bool {
				return stepPhase(sj, 1) == v1alpha1.PhaseRunning
			})
			waitForRunningPod(t, ns, name+"-1")

			sj := getSJ(t, ns, name)
			sj.Spec.Containers = fixtures.MakeSequentialJob("", "").Steps(tc.edit...).Obj().Spec.Containers
			require.NoError(t, k8s.Update(context.Background(), sj))

			done := waitForSJ(t, ns, name, "to finish", finished)
			jobs.requireSequential(t)
			require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Phase, "status: %+v", done.Status)
			require.Equal(t, tc.wantRan, jobs.stepsRun(name), "each step ran exactly once, in this order")
			var recorded []string
			for _, s := range done.Status.Steps {
				recorded = append(recorded, s.Name)
				require.Equal(t, v1alpha1.PhaseSucceeded, s.Phase, s.Name)
			}
			require.Equal(t, tc.wantRan, recorded)
			available := meta.FindStatusCondition(done.Status.Conditions, v1alpha1.ConditionAvailable)
			require.NotNil(t, available)
			require.Contains(t, available.Message, "all "+strconv.Itoa(len(tc.wantRan))+" steps succeeded")
		})
	}
}

// TestInvalidStepsFailFast: a step the apiserver would reject fails before
// anything runs. The CRD's CEL rules reject a missing image and a mount of
// a missing volume at admission; requests above limits only Job (pod)
// validation knows, and the controller's server-side dry-run finds it
// before step 0 starts.
func TestInvalidStepsFailFast(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)

	noImage := fixtures.MakeSequentialJob(ns, "no-image").Steps("prepare").Step("migrate", "").Obj()
	err := k8s.Create(context.Background(), noImage)
	require.Error(t, err)
	require.Contains(t, err.Error(), `step "migrate" has none`)

	noVolume := fixtures.MakeSequentialJob(ns, "no-volume").Steps("prepare", "migrate").Obj()
	noVolume.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	err = k8s.Create(context.Background(), noVolume)
	require.Error(t, err)
	require.Contains(t, err.Error(), `must name a volume of spec.template.spec.volumes or of spec.volumeClaimTemplates: step "migrate" mounts "data"`)

	const name = "over-limits"
	overLimits := fixtures.MakeSequentialJob(ns, name).Steps("prepare", "migrate").Obj()
	overLimits.Spec.Containers[1].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
	}
	createSJ(t, overLimits)
	sj := waitForSJ(t, ns, name, "to fail", finished)
	fixtures.RequireRunFailedFast(t, sj.Status, v1alpha1.ReasonInvalidStep,
		"step 1 (migrate) is invalid", "must be less than or equal to cpu limit")
	waitForEvent(t, ns, name, corev1.EventTypeWarning, v1alpha1.ReasonInvalidStep)
	require.Empty(t, jobs.createdNames(), "no Job is ever created")
}

// TestJobDeletedWhileControllerDownKeepsResult: step a's Job completes and
// a person deletes it while no controller runs. The step-result finalizer
// holds the Job until the controller is back and records a Succeeded; the
// run goes on and the Job is then gone. Not parallel: it stops the shared
// controller.
func TestJobDeletedWhileControllerDownKeepsResult(t *testing.T) {
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	const name = "kept-result"
	createSJ(t, fixtures.MakeSequentialJob(ns, name).Steps("a", "b").Duration("2s").Obj())
	waitForSJ(t, ns, name, "step 0 to run", func(sj *v1alpha1.SequentialJob) bool {
		return stepPhase(sj, 0) == v1alpha1.PhaseRunning
	})
	require.NoError(t, killController())
	controllerUp := false
	t.Cleanup(func() {
		if !controllerUp {
			_ = startController(context.Background())
		}
	})

	waitFor(t, "Job "+name+"-0 to complete", func(ctx context.Context) (bool, error) {
		job := jobs.job(name + "-0")
		return job != nil && jobCondition(job, batchv1.JobComplete), nil
	})
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-0"}}
	require.NoError(t, k8s.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)))
	held := &batchv1.Job{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(job), held), "the finalizer holds the Job")
	require.NotNil(t, held.DeletionTimestamp)

	require.NoError(t, startController(context.Background()))
	controllerUp = true
	done := waitForSJ(t, ns, name, "to finish", finished)
	require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Phase, "status: %+v", done.Status)
	require.Equal(t, v1alpha1.PhaseSucceeded, done.Status.Steps[0].Phase)
	require.Equal(t, v1alpha1.ReasonCompleted, done.Status.Steps[0].Reason)
	require.Equal(t, []string{"a", "b"}, jobs.stepsRun(name))
	waitFor(t, "the deleted Job to go once its result is recorded", func(ctx context.Context) (bool, error) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{})
		return isNotFound(err), client.IgnoreNotFound(err)
	})
}
