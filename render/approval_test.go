package render_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/fixtures"
)

func approve(steps ...string) func(*v1alpha1.SequentialJobSpec) {
	return func(spec *v1alpha1.SequentialJobSpec) { spec.ApprovedSteps = steps }
}

// TestApproval covers approval gates (render/approval.go): a gated step's
// turn holds the run, before its Job exists, until spec.approvedSteps
// lists it; the wait does not count against the run deadline.
func TestApproval(t *testing.T) {
	type want struct {
		Outcome        outcome
		Steps          []step
		ApprovalWait   *time.Time
		ActiveStart    *time.Time
		ApprovalEvents []string
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	awaiting := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending, Reason: v1alpha1.ReasonAwaitingApproval,
			Message: fmt.Sprintf(render.FmtAwaitingStep, name)}
	}
	succeeded := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
			Message: "Reached expected number of succeeded pods", Attempt: 1}
	}
	runningStep := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1}
	}
	waitingAt := func(index int, name string) map[string]cond {
		return shown(v1alpha1.ReasonAwaitingApproval, fmt.Sprintf(render.FmtAwaitingApproval, fmt.Sprintf("step %d (%s)", index, name), name, name),
			v1alpha1.ConditionReconciling, v1alpha1.ConditionAwaitingApproval)
	}
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	// reachGate: build ran a minute and succeeded; test is gated.
	reachGate := func(w *fixtures.SequentialJobWrapper) *fixtures.Sim {
		s := fixtures.NewSim(w.Obj(), t0)
		s.Render()
		return s.Advance(time.Minute).Complete("pipeline-0", "")
	}

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"GateHolds": {
			reason: "When the gated step's turn comes, no Job is created: the run is Waiting, AwaitingApproval names the step, one AwaitingApproval event, and the wait's clock starts.",
			sim:    func() *fixtures.Sim { return reachGate(pipeline().Gate("test")) },
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseWaiting, Conditions: waitingAt(1, "test"),
					Events: []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonAwaitingApproval}, Written: true},
				Steps:        []step{succeeded("build", "pipeline-0"), awaiting("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ApprovalWait: at(time.Minute), ActiveStart: at(0),
				ApprovalEvents: []string{fmt.Sprintf(render.FmtAwaitingEvent, "step 1 (test)")},
			},
		},
		"WaitingChangesNothing": {
			reason: "Later reconciles of a waiting run write nothing and record no event: the AwaitingApproval event is told once.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test"))
				s.Render()
				return s.Advance(time.Hour)
			},
			want: want{
				Outcome:      outcome{Phase: v1alpha1.PhaseWaiting, Conditions: waitingAt(1, "test")},
				Steps:        []step{succeeded("build", "pipeline-0"), awaiting("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ApprovalWait: at(time.Minute), ActiveStart: at(0),
			},
		},
		"GateOnFirstStep": {
			reason: "A gate on step 0 holds the run before any Job: Waiting, not Pending; the active-time clock has not started.",
			sim:    func() *fixtures.Sim { return fixtures.NewSim(pipeline().Gate("build").Obj(), t0) },
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseWaiting, Conditions: waitingAt(0, "build"),
					Events: []string{v1alpha1.ReasonAwaitingApproval}, Written: true},
				Steps:          []step{awaiting("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ApprovalWait:   at(0),
				ApprovalEvents: []string{fmt.Sprintf(render.FmtAwaitingEvent, "step 0 (build)")},
			},
		},
		"ApprovedWhileWaiting": {
			reason: "Listing the step in spec.approvedSteps releases the gate: its Job is created now, with an Approved event, and the wait ends.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test"))
				s.Render()
				return s.Advance(10 * time.Minute).Edit(approve("test"))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1", 1, 3), Job: "pipeline-1",
					Events: []string{v1alpha1.EventStepStarted, v1alpha1.EventApproved}, Written: true},
				Steps:          []step{succeeded("build", "pipeline-0"), runningStep("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStart:    at(10 * time.Minute),
				ApprovalEvents: []string{fmt.Sprintf(render.FmtApprovedEvent, "step 1 (test)")},
			},
		},
		"ApprovedBeforeReached": {
			reason: "An approval given before the gate is reached lets the run pass it without stopping: no Waiting, no AwaitingApproval event.",
			sim:    func() *fixtures.Sim { return reachGate(pipeline().Gate("test").Approve("test")) },
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1", 1, 3), Job: "pipeline-1",
					Events: []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted}, Written: true},
				Steps:       []step{succeeded("build", "pipeline-0"), runningStep("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStart: at(0),
			},
		},
		"WaitDoesNotCountAgainstDeadline": {
			reason: "With runDeadlineSeconds 300, build ran 1 minute, then the run waited 10 minutes: it is not failed, and it does not look again at the deadline while it waits.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test").RunDeadline(300))
				s.Render()
				return s.Advance(10 * time.Minute)
			},
			want: want{
				Outcome:      outcome{Phase: v1alpha1.PhaseWaiting, Conditions: waitingAt(1, "test")},
				Steps:        []step{succeeded("build", "pipeline-0"), awaiting("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ApprovalWait: at(time.Minute), ActiveStart: at(0),
			},
		},
		"DeadlineResumesAfterApproval": {
			reason: "Approved after 10 minutes of wait, the active start moves 10 minutes later: 4 of the 5 minutes remain, and the run looks again then.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test").RunDeadline(300))
				s.Render()
				return s.Advance(10 * time.Minute).Edit(approve("test"))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1", 1, 3), Job: "pipeline-1",
					Requeue: render.Requeue{After: 4 * time.Minute},
					Events:  []string{v1alpha1.EventStepStarted, v1alpha1.EventApproved}, Written: true},
				Steps:          []step{succeeded("build", "pipeline-0"), runningStep("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStart:    at(10 * time.Minute),
				ApprovalEvents: []string{fmt.Sprintf(render.FmtApprovedEvent, "step 1 (test)")},
			},
		},
		"SuspendWhileWaiting": {
			reason: "spec.suspend on a waiting run makes it Suspended (Suspended wins; AwaitingApproval is gone while suspended); the wait's clock gives way to the suspension's.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test"))
				s.Render()
				return s.Advance(2 * time.Minute).Edit(suspend(true))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseSuspended,
					Conditions: shown(v1alpha1.ReasonSuspended, fmt.Sprintf(render.FmtSuspendedAt, "step 1 (test)"),
						v1alpha1.ConditionReconciling, v1alpha1.ConditionSuspended),
					Events: []string{v1alpha1.ReasonSuspended}, Written: true},
				Steps:       []step{succeeded("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStart: at(2 * time.Minute),
			},
		},
		"ResumeToTheGate": {
			reason: "Resumed and still not approved, the run waits at the gate again: Resumed, then AwaitingApproval; the three minutes suspended and waiting moved the clock.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test"))
				s.Render()
				s.Advance(2 * time.Minute).Edit(suspend(true)).Render()
				return s.Advance(time.Minute).Edit(suspend(false))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseWaiting, Conditions: waitingAt(1, "test"),
					Events: []string{v1alpha1.EventResumed, v1alpha1.ReasonAwaitingApproval}, Written: true},
				Steps:          []step{succeeded("build", "pipeline-0"), awaiting("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ApprovalWait:   at(4 * time.Minute),
				ActiveStart:    at(3 * time.Minute),
				ApprovalEvents: []string{fmt.Sprintf(render.FmtAwaitingEvent, "step 1 (test)")},
			},
		},
		"SkippedGateDoesNotWait": {
			reason: "A gated step whose when is false is skipped at its turn, without waiting: nobody is asked to approve a step that does not run.",
			sim: func() *fixtures.Sim {
				return reachGate(pipeline().Settings(v1alpha1.StepSettings{Name: "test", Approval: v1alpha1.ApprovalRequired, When: "run.attempt > 1"}))
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(2, "deploy", "pipeline-2", 1, 3), Job: "pipeline-2",
					Events: []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepSkipped, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseSkipped, Reason: v1alpha1.ReasonConditionNotMet, Message: `when "run.attempt > 1" was false`},
					runningStep("deploy", "pipeline-2")},
				ActiveStart: at(0),
			},
		},
		"ApprovalRemovedAfterStart": {
			reason: "Removing the approval once the step runs changes nothing: the gate is looked at only at the step's turn (the edit is a spec change while a step runs, so SpecChanged).",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test").Approve("test"))
				s.Render()
				return s.Advance(time.Minute).Edit(approve())
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1", 1, 3),
					Events: []string{v1alpha1.EventSpecChanged}, Written: true},
				Steps:       []step{succeeded("build", "pipeline-0"), runningStep("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStart: at(0),
			},
		},
		"RetryKeepsTheApproval": {
			reason: "A gated, approved step that failed is retried by a new retryToken without waiting again: approvals live in spec, and spec keeps them.",
			sim: func() *fixtures.Sim {
				s := reachGate(pipeline().Gate("test").Approve("test"))
				s.Render()
				s.Advance(time.Minute).Fail("pipeline-1", "BackoffLimitExceeded", 1, "").Render()
				return s.Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = "again" })
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseRunning, Conditions: running(1, "test", "pipeline-1-r2", 1, 3), Job: "pipeline-1-r2",
					Events: []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted}, Written: true},
				Steps: []step{succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1-r2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 2,
						PreviousJobs: []string{"pipeline-1"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseFailed}},
					pending("deploy", "pipeline-2")},
				ActiveStart: at(3 * time.Minute),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps),
				ApprovalWait: timeOf(d.Status.ApprovalWaitTime), ActiveStart: timeOf(d.Status.ActiveStartTime)}
			for _, e := range d.Events {
				if e.Reason == v1alpha1.ReasonAwaitingApproval || e.Reason == v1alpha1.EventApproved {
					got.ApprovalEvents = append(got.ApprovalEvents, e.Message)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n(-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
