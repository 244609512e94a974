package reconciler

import (
	"testing"

	"github.com/stretchr/testify/assert"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestJobChangesThatMatter: which updates of a step Job wake its
// SequentialJob for a handoff. The Job controller's progress reports do not.
func TestJobChangesThatMatter(t *testing.T) {
	running := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}}
	change := func(f func(j *batchv1.Job)) *batchv1.Job {
		j := running.DeepCopy()
		f(j)
		return j
	}
	cases := map[string]struct {
		reason string
		new    *batchv1.Job
		want   bool
	}{
		"pods counted": {"active and ready counts change nothing render acts on",
			change(func(j *batchv1.Job) { j.Status.Active, j.Status.Ready = 1, new(int32) }), false},
		"success criteria met": {"SuccessCriteriaMet is not terminal",
			change(func(j *batchv1.Job) {
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue}}
			}), false},
		"complete": {"Complete ends the step: a handoff",
			change(func(j *batchv1.Job) {
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
			}), true},
		"failed": {"Failed ends the step",
			change(func(j *batchv1.Job) {
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
			}), true},
		"being deleted": {"a deletion ends a running step",
			change(func(j *batchv1.Job) { now := metav1.Now(); j.DeletionTimestamp = &now }), true},
		"relabelled": {"labels name the step",
			change(func(j *batchv1.Job) { j.Labels = map[string]string{"a": "c"} }), true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, matters(running, tc.new), tc.reason)
		})
	}
}
