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

// TestRetry covers spec.retryToken (render/retry.go): a new value re-opens
// a Failed run from where it failed. Only the entries that failed the run
// run again, each as its next attempt with a Job of its own; the steps that
// succeeded never run again; a failed step the same edit removed is left as
// it ended. On a run that has not failed, a new value is only recorded.
func TestRetry(t *testing.T) {
	type want struct {
		Outcome        outcome
		Steps, Finally []step
		// Attempt and RetryToken are status.attempt and status.retryToken.
		Attempt    int32
		RetryToken string
		// RetryEvent is the message of the Retry or RetryIgnored event.
		RetryEvent      string
		ActiveStartTime *time.Time
	}
	const backoff = "Job has reached the specified backoff limit"
	// exited is a failed step's message: its Job's condition, then its pod.
	exited := func(container, pod string) string {
		return fmt.Sprintf("%s; container %s of pod %s exited with code 1 (Error)", backoff, container, pod)
	}
	succeeded := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted,
			Message: "Reached expected number of succeeded pods", Attempt: 1}
	}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	failedAt := func(index int, reason string) map[string]cond {
		return shown(v1alpha1.ReasonJobFailed, fmt.Sprintf(render.FmtJobFailed, index, reason), v1alpha1.ConditionFailed, v1alpha1.ConditionStalled)
	}
	retried := func(token string, attempt int) string {
		return fmt.Sprintf("spec.retryToken changed to %q: attempt %d of the run starts again from where it failed; the steps that succeeded do not run again", token, attempt)
	}
	ignored := func(token string, phase v1alpha1.Phase) string {
		return fmt.Sprintf("spec.retryToken changed to %q while the run is %s: only a Failed run is retried, so it starts nothing", token, phase)
	}
	token := func(v string) func(*v1alpha1.SequentialJobSpec) {
		return func(spec *v1alpha1.SequentialJobSpec) { spec.RetryToken = v }
	}
	// historyOfTwelve: step build failed twelve times, each retried; the
	// thirteenth attempt is asked for.
	historyOfTwelve := func() *fixtures.Sim {
		s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Obj(), t0)
		s.Render()
		s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "").Render()
		for attempt := 2; attempt <= 12; attempt++ {
			s.Advance(time.Minute).Edit(token(fmt.Sprint(attempt))).Render()
			s.Advance(time.Minute).Fail(render.StepJobName("pipeline", false, 0, int32(attempt)), "BackoffLimitExceeded", 1, "").Render()
		}
		return s.Advance(time.Minute).Edit(token("13"))
	}
	var lastTen []string
	var tenFailed []v1alpha1.Phase
	for attempt := 3; attempt <= 12; attempt++ {
		lastTen = append(lastTen, fmt.Sprintf("pipeline-0-r%d", attempt))
		tenFailed = append(tenFailed, v1alpha1.PhaseFailed)
	}

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"NewTokenReopensFailedStep": {
			reason: "step 1 (test) failed the run: a new token runs it again as attempt 2, Job pipeline-1-r2, keeping attempt 1 in its history; step 0 succeeded and does not run again; the active-time clock restarts.",
			sim: func() *fixtures.Sim {
				return failedRun().Advance(time.Minute).Edit(token("2026-01-02"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "test", "pipeline-1-r2", 1, 3),
					Job:        "pipeline-1-r2",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1-r2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 2,
						PreviousJobs: []string{"pipeline-1"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseFailed}},
					pending("deploy", "pipeline-2"),
				},
				Attempt: 2, RetryToken: "2026-01-02", RetryEvent: retried("2026-01-02", 2),
				ActiveStartTime: at(3 * time.Minute),
			},
		},
		"UnchangedTokenRunStaysFailed": {
			reason: "A token set before the run failed was already seen: the Failed run is final, nothing is written.",
			sim: func() *fixtures.Sim {
				w := pipeline()
				w.Spec.RetryToken = "first"
				s := fixtures.NewSim(w.Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "").Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseFailed, Conditions: failedAt(0, "BackoffLimitExceeded")},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Message: exited("build", "pipeline-0-0"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				Attempt: 1, RetryToken: "first", ActiveStartTime: at(0),
			},
		},
		"TokenOnSucceededRunIgnored": {
			reason: "A new token on a Succeeded run starts nothing: it is recorded, and a warning says why.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-0", "").Render()
				return s.Advance(time.Minute).Edit(token("again"))
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseSucceeded,
					Conditions: shown(v1alpha1.ReasonCompleted, fmt.Sprintf(render.FmtAllSucceeded, 1),
						v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete),
					Events:  []string{v1alpha1.EventRetryIgnored},
					Written: true,
				},
				Steps:   []step{succeeded("build", "pipeline-0")},
				Attempt: 1, RetryToken: "again", RetryEvent: ignored("again", v1alpha1.PhaseSucceeded), ActiveStartTime: at(0),
			},
		},
		"TokenWhileRunningOnlyRecorded": {
			reason: "A new token on a running run is recorded and warned about; the run goes on as it was.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				return s.Advance(time.Minute).Edit(token("early"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Events:     []string{v1alpha1.EventRetryIgnored},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				Attempt: 1, RetryToken: "early", RetryEvent: ignored("early", v1alpha1.PhaseRunning), ActiveStartTime: at(0),
			},
		},
		"TokenSeenWhileRunningDoesNotRetryLaterFailure": {
			reason: "A token recorded while the run ran is seen: when the run fails later, it is not retried until the token changes again.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.Advance(time.Minute).Edit(token("early")).Render()
				s.Advance(time.Minute).Fail("pipeline-0", "BackoffLimitExceeded", 1, "").Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{Phase: v1alpha1.PhaseFailed, Conditions: failedAt(0, "BackoffLimitExceeded")},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Message: exited("build", "pipeline-0-0"), Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				Attempt: 1, RetryToken: "early", ActiveStartTime: at(0),
			},
		},
		"RemovedFailedStepNotRerun": {
			reason: "The retry's edit removes the failed step: it does not run again, stays Failed as allowed (onFailure: Continue) with a note, and the run goes on with deploy.",
			sim: func() *fixtures.Sim {
				return failedRun().Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
					spec.Containers = append(spec.Containers[:1], spec.Containers[2])
					spec.RetryToken = "without-test"
				})
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(2, "deploy", "pipeline-2", 1, 3),
					Job:        "pipeline-2",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Attempt: 1,
						Message: exited("test", "pipeline-1-1") + "; " + render.MsgRemovedBeforeRetry, OnFailure: v1alpha1.OnFailureContinue},
					{Name: "deploy", JobName: "pipeline-2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
				},
				Attempt: 2, RetryToken: "without-test", RetryEvent: retried("without-test", 2), ActiveStartTime: at(3 * time.Minute),
			},
		},
		"RemovedFailedStepRunSucceedsWithFailure": {
			reason: "Once deploy completes, the run whose failed step was removed succeeds, naming it as an allowed failure.",
			sim: func() *fixtures.Sim {
				s := failedRun().Advance(time.Minute).Edit(func(spec *v1alpha1.SequentialJobSpec) {
					spec.Containers = append(spec.Containers[:1], spec.Containers[2])
					spec.RetryToken = "without-test"
				})
				s.Render()
				return s.Advance(time.Minute).Complete("pipeline-2", "")
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseSucceeded,
					Conditions: shown(v1alpha1.ReasonCompletedWithFailures, fmt.Sprintf(render.FmtAllowedFailures, 3, 1, "was", "test"),
						v1alpha1.ConditionAvailable, v1alpha1.ConditionComplete),
					Events:  []string{v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted},
					Written: true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Attempt: 1,
						Message: exited("test", "pipeline-1-1") + "; " + render.MsgRemovedBeforeRetry, OnFailure: v1alpha1.OnFailureContinue},
					succeeded("deploy", "pipeline-2"),
				},
				Attempt: 2, RetryToken: "without-test", ActiveStartTime: at(3 * time.Minute),
			},
		},
		"AllowedFailureNotRerun": {
			reason: "A step that failed with onFailure: Continue did not fail the run, so the retry leaves it: only deploy, which failed the run, runs again.",
			sim: func() *fixtures.Sim {
				s := continueScenario()
				s.Render()
				s.Advance(time.Minute).Fail("pipeline-2", "BackoffLimitExceeded", 1, "").Render()
				return s.Advance(time.Minute).Edit(token("again"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(2, "deploy", "pipeline-2-r2", 1, 3),
					Job:        "pipeline-2-r2",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseFailed, Reason: "BackoffLimitExceeded", Attempt: 1,
						Message: exited("test", "pipeline-1-1"), OnFailure: v1alpha1.OnFailureContinue},
					{Name: "deploy", JobName: "pipeline-2-r2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 2,
						PreviousJobs: []string{"pipeline-2"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseFailed}},
				},
				Attempt: 2, RetryToken: "again", RetryEvent: retried("again", 2), ActiveStartTime: at(4 * time.Minute),
			},
		},
		"FinallyRerunAfterStepFailure": {
			reason: "The finally step ran because step 1 failed; the retry re-opens step 1 and the finally step too, for the run's new ending.",
			sim: func() *fixtures.Sim {
				s := finallyAfterFailure()
				s.Render()
				s.Advance(time.Minute).Complete("pipeline-f0", "").Render()
				return s.Advance(time.Minute).Edit(token("again"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "test", "pipeline-1-r2", 1, 3),
					Job:        "pipeline-1-r2",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1-r2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 2,
						PreviousJobs: []string{"pipeline-1"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseFailed}},
					pending("deploy", "pipeline-2"),
				},
				Finally: []step{{Name: "notify", JobName: "pipeline-f0-r2", Phase: v1alpha1.PhasePending, Attempt: 2,
					PreviousJobs: []string{"pipeline-f0"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseSucceeded}}},
				Attempt: 2, RetryToken: "again", RetryEvent: retried("again", 2), ActiveStartTime: at(4 * time.Minute),
			},
		},
		"OnlyFailedFinallyRerun": {
			reason: "When only the finally step failed the run, the retry runs just that finally step again; the succeeded step stays as it was.",
			sim: func() *fixtures.Sim {
				s := finallyAfterSuccess()
				s.Render()
				s.Advance(time.Minute).Fail("pipeline-f0", "BackoffLimitExceeded", 1, "").Render()
				return s.Advance(time.Minute).Edit(token("again"))
			},
			want: want{
				Outcome: outcome{
					Phase: v1alpha1.PhaseRunning,
					Conditions: shown(v1alpha1.ReasonFinallyRunning, fmt.Sprintf(render.FmtFinallyAfter, 1, "finally step 0 (cleanup)", "pipeline-f0-r2"),
						v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling),
					Job:     "pipeline-f0-r2",
					Events:  []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written: true,
				},
				Steps: []step{succeeded("build", "pipeline-0")},
				Finally: []step{{Name: "cleanup", JobName: "pipeline-f0-r2", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 2,
					PreviousJobs: []string{"pipeline-f0"}, PreviousPhases: []v1alpha1.Phase{v1alpha1.PhaseFailed}}},
				Attempt: 2, RetryToken: "again", RetryEvent: retried("again", 2), ActiveStartTime: at(3 * time.Minute),
			},
		},
		"DeadlineFailureRetriedWithFreshClock": {
			reason: "A step the run deadline failed before it started had no Job: the retry runs it as attempt 1, Job pipeline-1, with the whole deadline again. " +
				"Its entry keeps its name and Job name (Failed -> Running), and its start is announced: the entry had never started.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().RunDeadline(60).Obj(), t0)
				s.Render()
				s.Advance(2*time.Minute).Complete("pipeline-0", "").Render()
				return s.Advance(time.Minute).Edit(token("again"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(1, "test", "pipeline-1", 1, 3),
					Job:        "pipeline-1",
					Requeue:    render.Requeue{After: time.Minute},
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					succeeded("build", "pipeline-0"),
					{Name: "test", JobName: "pipeline-1", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("deploy", "pipeline-2"),
				},
				Attempt: 2, RetryToken: "again", RetryEvent: retried("again", 2), ActiveStartTime: at(3 * time.Minute),
			},
		},
		"RejectedStepRetriedAfterFix": {
			reason: "The dry-run refused step 1, failing the run before anything ran; once fixed, the retry starts from step 0, and step 1 waits as a pending step with no attempt of its own.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Rejected = map[string]render.Rejection{"test": {Reason: v1alpha1.ReasonInvalidStep, Message: "image: Required value"}}
				s.Render()
				s.Rejected = nil
				return s.Advance(time.Minute).Edit(token("fixed"))
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Job:        "pipeline-0",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{
					{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1},
					pending("test", "pipeline-1"), pending("deploy", "pipeline-2"),
				},
				Attempt: 2, RetryToken: "fixed", RetryEvent: retried("fixed", 2), ActiveStartTime: at(time.Minute),
			},
		},
		"HistoryKeepsLastTenAttempts": {
			reason: "A step's history keeps its last MaxPreviousAttempts (10) attempts: attempt 13 remembers attempts 3 to 12.",
			sim:    historyOfTwelve,
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0-r13", 0, 1),
					Job:        "pipeline-0-r13",
					Events:     []string{v1alpha1.EventRetry, v1alpha1.EventStepStarted},
					Written:    true,
				},
				Steps: []step{{Name: "build", JobName: "pipeline-0-r13", Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 13,
					PreviousJobs: lastTen, PreviousPhases: tenFailed}},
				Attempt: 13, RetryToken: "13", RetryEvent: retried("13", 13), ActiveStartTime: at(24 * time.Minute),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps), Finally: stepsOf(d.Status.Finally),
				Attempt: d.Status.Attempt, RetryToken: d.Status.RetryToken, ActiveStartTime: timeOf(d.Status.ActiveStartTime)}
			for _, e := range d.Events {
				if e.Reason == v1alpha1.EventRetry || e.Reason == v1alpha1.EventRetryIgnored {
					got.RetryEvent = e.Message
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
