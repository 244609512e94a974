package render_test

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// BenchmarkRender measures one reconcile's pure work on the largest run the
// API allows (64 steps) half done: the hot path of every reconcile.
func BenchmarkRender(b *testing.B) {
	for _, steps := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			w := fixtures.MakeSequentialJob("default", "bench")
			for i := range steps {
				w.Step(fmt.Sprintf("step-%d", i), "busybox", "sh", "-c", "true")
			}
			sj := w.Obj()
			sj.UID, sj.Generation = "uid", 1
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

			// Run half the steps to completion through render itself, so the
			// input is a status render would really have written.
			var jobs []batchv1.Job
			for i := 0; i < steps/2+1; i++ {
				d := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
				sj.Status = d.Status
				if j := d.Job; j != nil {
					job := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: *j.Name, Namespace: *j.Namespace, Labels: j.Labels,
						OwnerReferences: []metav1.OwnerReference{{UID: sj.UID, Controller: ptr.To(true), Name: sj.Name, Kind: "SequentialJob"}}}}
					if i < steps/2 {
						job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
					}
					jobs = append(jobs, job)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
			}
		})
	}
}
