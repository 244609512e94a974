package render_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

// TestRunDeadline covers spec.runDeadlineSeconds (render/deadline.go): once
// that much active time has passed, the running step's Job is stopped, or
// the next step never starts, and the run fails with DeadlineExceeded.
// Until then the run asks to be looked at again when it passes.
func TestRunDeadline(t *testing.T) {
	type want struct {
		Outcome outcome
		Steps   []step
		// FailureReason is status.progress.failureReason.
		FailureReason   string
		ActiveStartTime *time.Time
	}
	succeeded := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
			Message: "Reached expected number of succeeded pods", Attempt: 1}
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	runningStep := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1}
	}
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	stoppedAt := func(what, how string) string { return fmt.Sprintf(render.FmtDeadlineStopped, what, how) }
	// stepOneRuns: a 180s deadline from t0; step 0 took a minute, step 1 runs
	// since t0+1m. Advance takes the clock on from there.
	stepOneRuns := func(w *fixtures.SequentialJobWrapper) *fixtures.Sim {
		s := fixtures.NewSim(w.RunDeadline(180).Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Complete("pipeline-0", "").Render()
		return s
	}

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"RequeueAtDeadline": {
			reason: "Before the deadline, nothing changes and the run asks to be looked at again when it passes: 600s from t0, seen at t0+1m.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(600).Obj(), t0)
				s.Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Requeue:    render.Requeue{After: 9 * time.Minute},
				},
				Steps:           []step{runningStep("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(0),
			},
		},
		"NoDeadlineNoRequeue": {
			reason: "Without spec.runDeadlineSeconds a running run waits for its Job's changes alone.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				return s.Advance(time.Hour)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
				},
				Steps:           []step{runningStep("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(0),
			},
		},
		"OneSecondBeforeDeadline": {
			reason: "One second before the deadline the run still runs, and looks again in that second.",
			sim: func() *fixtures.Sim {
				return stepOneRuns(pipeline()).Advance(2*time.Minute - time.Second)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "test", "pipeline-1", 1, 3),
					Requeue:    render.Requeue{After: time.Second},
				},
				Steps:           []step{succeeded("build", "pipeline-0"), runningStep("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(0),
			},
		},
		"DeadlinePassesWhileStepRuns": {
			reason: "At the deadline (not after it) the running step's Job is stopped through activeDeadlineSeconds: 1, the step fails with RunDeadlineExceeded and the run with DeadlineExceeded; no Job is created.",
			sim: func() *fixtures.Sim {
				return stepOneRuns(pipeline()).Advance(2 * time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonDeadlineExceeded, stoppedAt("step 1 (test)", render.MsgWasRunning),
						v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Controls: []control{{Job: "pipeline-1", Stop: true}},
					Events:   []string{v1alpha1.ReasonDeadlineExceeded},
					Written:  true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonRunDeadlineExceeded,
						Message: fmt.Sprintf(render.FmtStoppedByDeadline, 180), Attempt: 1},
					pending("deploy", "pipeline-2"),
				},
				FailureReason:   v1alpha1.ReasonDeadlineExceeded,
				ActiveStartTime: at(0),
			},
		},
		"DeadlinePassesBetweenSteps": {
			reason: "Step 0 completed, but the deadline passed before step 1 started: step 1 never starts, and the run says it had not started; nothing runs, so nothing is stopped.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(60).Obj(), t0)
				s.Render()
				return s.Advance(2*time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseFailed,
					Conditions: shown(v1alpha1.ReasonDeadlineExceeded, stoppedAt("step 1 (test)", render.MsgHadNotStarted),
						v1alpha1.ConditionFailed, v1alpha1.ConditionStalled),
					Events:  []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonDeadlineExceeded},
					Written: true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonRunDeadlineExceeded,
						Message: fmt.Sprintf(render.FmtNeverStartedDeadline, 60)},
					pending("deploy", "pipeline-2"),
				},
				FailureReason:   v1alpha1.ReasonDeadlineExceeded,
				ActiveStartTime: at(0),
			},
		},
		"SuspendedTimeNotCounted": {
			reason: "Time suspended does not count: 240s from t0 with t0+1m..t0+3m suspended passes at t0+6m, so at t0+5m the run looks again in a minute.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(240).Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Edit(suspend(true)).Render()
				s.Advance(2 * time.Minute).Edit(suspend(false)).Render()
				return s.Advance(2 * time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Requeue:    render.Requeue{After: time.Minute},
				},
				Steps:           []step{runningStep("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(2 * time.Minute),
			},
		},
		"NotCheckedWhileSuspended": {
			reason: "A suspended run does not fail by its deadline, however long it stays suspended, and sets no deadline requeue.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(60).Obj(), t0)
				s.Render()
				s.Advance(30 * time.Second).Edit(suspend(true)).Render()
				return s.Advance(time.Hour)
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseSuspended,
					Conditions: shown(v1alpha1.ReasonSuspended, fmt.Sprintf(render.FmtSuspendedAt, "step 0 (build)"),
						v1alpha1.ConditionReconciling, v1alpha1.ConditionSuspended),
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonSuspended,
						Message: fmt.Sprintf(render.FmtStepSuspended, "pipeline-0"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(0),
			},
		},
		"ResumedAfterLongSuspension": {
			reason: "Resumed after an hour suspended, the run has the 30s of its 60s it had left.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(60).Obj(), t0)
				s.Render()
				s.Advance(30 * time.Second).Edit(suspend(true)).Render()
				return s.Advance(time.Hour).Edit(suspend(false))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Controls:   []control{{Job: "pipeline-0", Suspend: ptr.To(false)}},
					Requeue:    render.Requeue{After: 30 * time.Second},
					Events:     []string{v1alpha1.EventResumed},
					Written:    true,
				},
				Steps:           []step{runningStep("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(time.Hour),
			},
		},
		"FinallyRunsAfterDeadline": {
			reason: "A deadline failure ends the steps like any failure: the running step is stopped and the finally step starts in the same reconcile; the run is Failed only once it ends.",
			sim: func() *fixtures.Sim {
				return stepOneRuns(pipeline().Finally("notify")).Advance(2 * time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: shown(v1alpha1.ReasonFinallyRunning, fmt.Sprintf(render.FmtFinallyAfterFail, "step 1 (test)",
						stoppedAt("step 1 (test)", render.MsgWasRunning), "finally step 0 (notify)", "pipeline-f0"),
						v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling),
					Job:      "pipeline-f0",
					Controls: []control{{Job: "pipeline-1", Stop: true}},
					Events:   []string{v1alpha1.ReasonDeadlineExceeded, v1alpha1.EventStepStarted},
					Written:  true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonRunDeadlineExceeded,
						Message: fmt.Sprintf(render.FmtStoppedByDeadline, 180), Attempt: 1},
					pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(0),
			},
		},
		"FinallyNotBoundByDeadline": {
			reason: "The deadline bounds the steps only: a finally step that started after it may run on, with no deadline requeue.",
			sim: func() *fixtures.Sim {
				s := stepOneRuns(pipeline().Finally("notify")).Advance(2 * time.Minute)
				s.Render()
				return s.Advance(time.Hour)
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: shown(v1alpha1.ReasonFinallyRunning, fmt.Sprintf(render.FmtFinallyAfterFail, "step 1 (test)",
						stoppedAt("step 1 (test)", render.MsgWasRunning), "finally step 0 (notify)", "pipeline-f0"),
						v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling),
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: v1alpha1.ReasonRunDeadlineExceeded,
						Message: fmt.Sprintf(render.FmtStoppedByDeadline, 180), Attempt: 1},
					pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(0),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps), FailureReason: d.Status.Progress.FailureReason,
				ActiveStartTime: timeOf(d.Status.ActiveStartTime)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
