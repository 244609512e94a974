package render_test

import (
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
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

// BenchmarkWhen measures what when adds to a run: one op is a whole run of
// 8 steps, 7 of them with a when reading the step before (so every
// expression is compiled and checked before step 0, then evaluated at its
// step's turn), rendered reconcile after reconcile as the controller would,
// against the same run without when. "cold" empties the cache of compiled
// programs first, so each op compiles all 7 expressions again.
func BenchmarkWhen(b *testing.B) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	build := func(withWhen bool, salt int) *v1alpha1.SequentialJob {
		w := fixtures.MakeSequentialJob("default", "bench")
		for i := range 8 {
			w.Step(fmt.Sprintf("step-%d", i), "busybox", "sh", "-c", "true")
			if withWhen && i > 0 {
				w.Settings(v1alpha1.StepSettings{Name: fmt.Sprintf("step-%d", i),
					When: fmt.Sprintf("steps['step-%d'].phase == 'Succeeded' && !('salt-%d' in run.labels)", i-1, salt)})
			}
		}
		sj := w.Obj()
		sj.UID, sj.Generation = "uid", 1
		return sj
	}
	run := func(sj *v1alpha1.SequentialJob) {
		var jobs []batchv1.Job
		for {
			d := render.Render(render.Observed{SequentialJob: sj, Jobs: jobs}, now)
			sj.Status = d.Status
			if d.Job == nil {
				return
			}
			jobs = append(jobs, batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: *d.Job.Name, Namespace: *d.Job.Namespace, Labels: d.Job.Labels,
				OwnerReferences: []metav1.OwnerReference{{UID: sj.UID, Controller: ptr.To(true), Name: sj.Name, Kind: "SequentialJob"}}},
				Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}}})
		}
	}
	for _, bc := range []struct {
		name     string
		withWhen bool
		cold     bool
	}{{"without-when", false, false}, {"when-cached", true, false}, {"when-cold", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				salt := 0
				if bc.cold {
					// A new expression text each op: a miss for every when.
					i++
					salt = i
				}
				sj := build(bc.withWhen, salt)
				run(sj)
				if sj.Status.Phase != v1alpha1.PhaseSucceeded {
					b.Fatalf("the run is %s", sj.Status.Phase)
				}
			}
		})
	}
}
