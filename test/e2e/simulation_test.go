package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
)

// TestSimulationAnnotations checks the kwok Stages on plain Jobs, without
// the controller: the exit code annotations decide how a pod ends, for
// every step or for one step (by the step-name label the controller sets).
func TestSimulationAnnotations(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)

	cases := []struct {
		name        string
		reason      string
		annotations map[string]string
		labels      map[string]string
		wantPhase   corev1.PodPhase
		wantExit    int32
	}{
		{
			name:      "default",
			reason:    "no annotation: the container exits 0 after about a second",
			wantPhase: corev1.PodSucceeded, wantExit: 0,
		},
		{
			name:        "exit-code",
			reason:      "a non-zero exit code fails the pod with that code",
			annotations: map[string]string{localcluster.AnnotationExitCode: "7", localcluster.AnnotationDuration: "100ms"},
			wantPhase:   corev1.PodFailed, wantExit: 7,
		},
		{
			name:        "step-exit-code",
			reason:      "the step's own annotation wins over the one for every step",
			annotations: map[string]string{localcluster.AnnotationExitCode + ".migrate": "3", localcluster.AnnotationExitCode: "0"},
			labels:      map[string]string{v1alpha1.LabelStepName: "migrate"},
			wantPhase:   corev1.PodFailed, wantExit: 3,
		},
		{
			name:        "other-step-exit-code",
			reason:      "another step's annotation does not apply",
			annotations: map[string]string{localcluster.AnnotationExitCode + ".migrate": "3"},
			labels:      map[string]string{v1alpha1.LabelStepName: "prepare"},
			wantPhase:   corev1.PodSucceeded, wantExit: 0,
		},
		{
			name:        "invalid-exit-code",
			reason:      "an exit code that is not a number from 1 to 255 counts as 1",
			annotations: map[string]string{localcluster.AnnotationExitCode: "oops", localcluster.AnnotationDuration: "not-a-duration"},
			wantPhase:   corev1.PodFailed, wantExit: 1,
		},
	}
	for _, tc := range cases {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name},
			Spec: batchv1.JobSpec{
				BackoffLimit: ptr.To[int32](0),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations, Labels: tc.labels},
					Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
					},
				},
			},
		}
		require.NoError(t, k8s.Create(context.Background(), job), tc.name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pod corev1.Pod
			waitFor(t, "the pod of Job "+tc.name+" to end", func(ctx context.Context) (bool, error) {
				pods, err := podsOf(ctx, ns, tc.name)
				if err != nil || len(pods) == 0 {
					return false, err
				}
				pod = pods[0]
				return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed, nil
			})
			require.Equal(t, tc.wantPhase, pod.Status.Phase, tc.reason)
			require.Len(t, pod.Status.ContainerStatuses, 1)
			term := pod.Status.ContainerStatuses[0].State.Terminated
			require.NotNil(t, term, tc.reason)
			require.Equal(t, tc.wantExit, term.ExitCode, tc.reason)

			wantCondition := batchv1.JobComplete
			if tc.wantPhase == corev1.PodFailed {
				wantCondition = batchv1.JobFailed
			}
			waitFor(t, "Job "+tc.name+" to be "+string(wantCondition), func(ctx context.Context) (bool, error) {
				job := &batchv1.Job{}
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.name}, job); err != nil {
					return false, err
				}
				return jobCondition(job, wantCondition), nil
			})
		})
	}
}
