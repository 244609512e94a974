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

// TestSuspend covers spec.suspend (render/suspend.go): a suspended run
// starts no step and suspends the running step's Job with it; clearing
// spec.suspend resumes that Job, or starts the next step.
func TestSuspend(t *testing.T) {
	type want struct {
		Outcome        outcome
		Steps, Finally []step
		// SuspendTime and ActiveStartTime are the run's active-time clock.
		SuspendTime, ActiveStartTime *time.Time
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	suspendedAt := func(what string) map[string]cond {
		return shown(v1alpha1.ReasonSuspended, fmt.Sprintf(render.FmtSuspendedAt, what),
			v1alpha1.ConditionReconciling, v1alpha1.ConditionSuspended)
	}
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	stepSuspended := func(job string) string { return fmt.Sprintf(render.FmtStepSuspended, job) }

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"SuspendRunningStep": {
			reason: "spec.suspend while step 0 runs suspends its Job (its pods are deleted); the run is Suspended at step 0, and no new step starts.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("step 0 (build)"),
					Controls:   []control{{Job: "pipeline-0", Suspend: ptr.To(true)}},
					Events:     []string{v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonSuspended, Message: stepSuspended("pipeline-0"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				SuspendTime: at(time.Minute), ActiveStartTime: at(0),
			},
		},
		"SuspendedJobStaysSuspended": {
			reason: "Once the step's Job is suspended, later reconciles of the suspended run change nothing: no control, no write, no event.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Edit(suspend(true)).Render()
				return s.Advance(10 * time.Minute)
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseSuspended, Conditions: suspendedAt("step 0 (build)")},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonSuspended, Message: stepSuspended("pipeline-0"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				SuspendTime: at(time.Minute), ActiveStartTime: at(0),
			},
		},
		"SuspendBeforeFirstStep": {
			reason: "A run created suspended creates no Job. The message names step 0, the step it waits at: msgSuspendedAtStart is not what it shows.",
			sim: func() *fixtures.Sim {
				w := pipeline()
				w.Spec.Suspend = ptr.To(true)
				return fixtures.NewSim(w.Obj(), t0)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("step 0 (build)"),
					Events:     []string{v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps:       []step{pending("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				SuspendTime: at(0),
			},
		},
		"SuspendBetweenSteps": {
			reason: "Suspended as step 0 completes, the run records step 0 and does not start step 1; nothing runs, so there is no control.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-0", "").Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("step 1 (test)"),
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
						Message: "Reached expected number of succeeded pods", Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				SuspendTime: at(time.Minute), ActiveStartTime: at(0),
			},
		},
		"ResumeSuspendedStep": {
			reason: "Clearing spec.suspend resumes the same Job (no new Job); the step is JobCreated again and the two minutes suspended move the active-time clock.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Edit(suspend(true)).Render()
				return s.Advance(2 * time.Minute).Edit(suspend(false))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Controls:   []control{{Job: "pipeline-0", Suspend: ptr.To(false)}},
					Events:     []string{v1alpha1.EventResumed},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(2 * time.Minute),
			},
		},
		"ResumeBeforeFirstStep": {
			reason: "A run created suspended starts step 0 once resumed; the clock starts then, not at creation.",
			sim: func() *fixtures.Sim {
				w := pipeline()
				w.Spec.Suspend = ptr.To(true)
				s := fixtures.NewSim(w.Obj(), t0)
				s.Render()
				return s.Advance(5 * time.Minute).Edit(suspend(false))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Job:        "pipeline-0",
					Events:     []string{v1alpha1.EventStepStarted, v1alpha1.EventResumed},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(5 * time.Minute),
			},
		},
		"ResumeBetweenSteps": {
			reason: "Resumed between steps, the run starts the step it waited at.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-0", "").Edit(suspend(true)).Render()
				return s.Advance(time.Minute).Edit(suspend(false))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "test", "pipeline-1", 1, 3),
					Job:        "pipeline-1",
					Events:     []string{v1alpha1.EventStepStarted, v1alpha1.EventResumed},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
						Message: "Reached expected number of succeeded pods", Attempt: 1},
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("deploy", "pipeline-2"),
				},
				ActiveStartTime: at(time.Minute),
			},
		},
		"SuspendFinishedRunIgnored": {
			reason: "A finished run is final: spec.suspend on a Succeeded run changes neither its phase nor its conditions, and the edit is warned about as any other.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-0", "").Render()
				return s.Advance(time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseSucceeded,
					Conditions: shown(v1alpha1.ReasonCompleted, fmt.Sprintf(render.FmtAllSucceeded, 1),
						v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete),
					Events:  []string{v1alpha1.EventSpecChanged},
					Written: true, // observedGeneration follows the edit
				},
				Steps: []step{{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
					Message: "Reached expected number of succeeded pods", Attempt: 1}},
				ActiveStartTime: at(0),
			},
		},
		"SuspendWhileFinallyRuns": {
			reason: "A running finally step's Job is suspended with the run as a step's is; the run is Suspended at that finally step.",
			sim: func() *fixtures.Sim {
				s := finallyAfterSuccess()
				s.Render()
				return s.Advance(time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("finally step 0 (cleanup)"),
					Controls:   []control{{Job: "pipeline-f0", Suspend: ptr.To(true)}},
					Events:     []string{v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps: []step{{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
					Message: "Reached expected number of succeeded pods", Attempt: 1}},
				Finally: []step{{Name: "cleanup", JobName: "pipeline-f0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonSuspended,
					Message: stepSuspended("pipeline-f0"), Attempt: 1}},
				SuspendTime: at(2 * time.Minute), ActiveStartTime: at(0),
			},
		},
		"SuspendAdmittedQueuedJobLeftToKueue": {
			reason: "A Job in a Kueue queue is Kueue's to suspend: spec.suspend issues no control for it, and the step's message says its Job runs on, admitted.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Queue("team-a").Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Admit("pipeline-0").Render()
				return s.Advance(time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("step 0 (build)"),
					Events:     []string{v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonSuspended,
						Message: fmt.Sprintf(render.FmtQueuedStepSuspended, "pipeline-0", "team-a"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				SuspendTime: at(2 * time.Minute), ActiveStartTime: at(time.Minute),
			},
		},
		"SuspendQueuedJobWaitingForAdmission": {
			reason: "A step still waiting in its queue stays Queued (reason Queued, the queued message) under a suspended run; no control is issued.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Queue("team-a").Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseSuspended,
					Conditions: suspendedAt("step 0 (build)"),
					Events:     []string{v1alpha1.ReasonSuspended},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseQueued, Reason: v1alpha1.ReasonQueued,
						Message: fmt.Sprintf(render.FmtQueued, "pipeline-0", "team-a"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				SuspendTime: at(time.Minute), ActiveStartTime: at(0),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps), Finally: stepsOf(d.Status.Finally),
				SuspendTime: timeOf(d.Status.SuspendTime), ActiveStartTime: timeOf(d.Status.ActiveStartTime)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
