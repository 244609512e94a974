package schedule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/fixtures"
)

var policies = []v1alpha1.ConcurrencyPolicy{v1alpha1.AllowConcurrent, v1alpha1.ForbidConcurrent, v1alpha1.ReplaceConcurrent, ""}

var phases = []v1alpha1.Phase{"", v1alpha1.PhasePending, v1alpha1.PhaseRunning, v1alpha1.PhaseSucceeded, v1alpha1.PhaseFailed}

// FuzzDecide drives the decision with any schedule, time zone, policy,
// deadline, history limits and runs, and checks what must always hold:
// at most one run, named for a schedule time not after now and not run
// before; Forbid never beside an active run; only the cron's own runs
// deleted, and no more than the history limits need; status never moves
// lastScheduleTime back; and deciding again on the result changes nothing.
func FuzzDecide(f *testing.F) {
	f.Add("*/5 * * * *", "", uint8(0), int64(-1), uint16(61), uint8(3), uint8(1), []byte{2, 3, 4})
	f.Add("* * * * *", "Europe/Berlin", uint8(1), int64(30), uint16(3000), uint8(0), uint8(0), []byte{2, 2, 4, 3})
	f.Add("@hourly", "America/New_York", uint8(2), int64(0), uint16(120), uint8(1), uint8(1), []byte{1})
	f.Add("61 * * * *", "", uint8(0), int64(-1), uint16(5), uint8(3), uint8(1), []byte{})
	f.Add("0 0 30 2 *", "Mars/Base", uint8(1), int64(10), uint16(9), uint8(3), uint8(1), []byte{3})
	f.Add("@every 90s", "UTC", uint8(3), int64(600), uint16(400), uint8(2), uint8(2), []byte{0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, sched, tz string, policy uint8, deadline int64, sinceLast uint16, keepOK, keepFailed uint8, runPhases []byte) {
		if len(runPhases) > 20 {
			runPhases = runPhases[:20]
		}
		now := t0.Add(17 * time.Second)
		w := fixtures.MakeCron("default", "cron", sched, now.Add(-30*24*time.Hour)).Policy(policies[int(policy)%len(policies)]).
			History(int32(keepOK%8), int32(keepFailed%8))
		if tz != "" {
			w.TimeZone(tz)
		}
		if deadline >= 0 {
			w.Deadline(deadline % 100000)
		}
		last := now.Add(-time.Duration(sinceLast) * time.Minute).Truncate(time.Minute)
		w.LastSchedule(last)
		c := w.Obj()
		var runs []v1alpha1.SequentialJob
		for i, p := range runPhases {
			scheduled := last.Add(-time.Duration(i) * time.Minute)
			done := time.Time{}
			phase := phases[int(p)%len(phases)]
			if phase.Terminal() {
				done = scheduled.Add(30 * time.Second)
			}
			runs = append(runs, fixtures.Run(c, scheduled, phase, done))
		}

		d := schedule.Decide(c, runs, now)

		if d.RequeueAfter < 0 {
			t.Fatalf("requeue in the past: %s", d.RequeueAfter)
		}
		if d.Status.LastScheduleTime == nil || d.Status.LastScheduleTime.Before(c.Status.LastScheduleTime) || d.Status.LastScheduleTime.After(now) {
			t.Fatalf("lastScheduleTime %v moved back or past now (was %v)", d.Status.LastScheduleTime, c.Status.LastScheduleTime)
		}
		active := 0
		for _, sj := range runs {
			if !sj.Status.Phase.Terminal() {
				active++
			}
		}
		if d.Create != nil {
			if d.Create.Name != schedule.RunName(c.Name, d.Status.LastScheduleTime.Time) {
				t.Fatalf("created %s for lastScheduleTime %v", d.Create.Name, d.Status.LastScheduleTime)
			}
			for _, sj := range runs {
				if sj.Name == d.Create.Name {
					t.Fatalf("created %s twice", sj.Name)
				}
			}
			if c.Spec.ConcurrencyPolicy == v1alpha1.ForbidConcurrent && active > 0 {
				t.Fatalf("Forbid created %s beside %d active runs", d.Create.Name, active)
			}
		}
		deleted := map[string]bool{}
		for _, del := range d.Delete {
			if deleted[del.Name] {
				t.Fatalf("deleted %s twice", del.Name)
			}
			deleted[del.Name] = true
		}
		kept := map[v1alpha1.Phase]int{}
		for _, sj := range runs {
			if !deleted[sj.Name] {
				kept[sj.Status.Phase]++
			}
		}
		if kept[v1alpha1.PhaseSucceeded] > int(*c.Spec.SuccessfulRunsHistoryLimit) || kept[v1alpha1.PhaseFailed] > int(*c.Spec.FailedRunsHistoryLimit) {
			t.Fatalf("history beyond its limits: %v", kept)
		}

		// Again, on the result: nothing more to do.
		next := c.DeepCopy()
		next.Status = d.Status
		var after []v1alpha1.SequentialJob
		for _, sj := range runs {
			if !deleted[sj.Name] {
				after = append(after, sj)
			} else if sj.DeletionTimestamp == nil {
				sj.DeletionTimestamp = &metav1.Time{Time: now}
				after = append(after, sj)
			}
		}
		if d.Create != nil {
			after = append(after, *d.Create)
		}
		again := schedule.Decide(next, after, now)
		if again.Create != nil || len(again.Delete) > 0 {
			t.Fatalf("a second decision acts again: create %v, delete %v", again.Create != nil, again.Delete)
		}
		if diff := cmp.Diff(d.Status, again.Status); diff != "" {
			t.Fatalf("a second decision changes the status (-first +second):\n%s", diff)
		}
	})
}
