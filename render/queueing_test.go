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

// TestQueueing covers Kueue queueing (render/queueing.go): with a
// kueue.x-k8s.io/queue-name label, each step's Job is created suspended in
// that LocalQueue, the step and the run are Queued until Kueue admits it
// (unsuspends it), and the active-time clock stands still meanwhile.
func TestQueueing(t *testing.T) {
	type want struct {
		Outcome outcome
		Steps   []step
		// JobSuspend and JobLabels are the created Job's spec.suspend and
		// its Kueue labels.
		JobSuspend                 *bool
		JobLabels                  map[string]string
		QueueTime, ActiveStartTime *time.Time
	}
	const completed = "Reached expected number of succeeded pods"
	kueueLabels := []string{v1alpha1.LabelQueueName, v1alpha1.LabelPriorityClass}
	pending := func(name, job string) step { return step{Name: name, JobName: job, Phase: v1alpha1.PhasePending} }
	done := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseSucceeded, Reason: v1alpha1.ReasonCompleted, Message: completed, Attempt: 1}
	}
	runs := func(name, job string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseRunning, Reason: v1alpha1.ReasonJobCreated, Attempt: 1}
	}
	waits := func(job, queue string) string { return fmt.Sprintf(render.FmtQueued, job, queue) }
	queued := func(name, job, queue string) step {
		return step{Name: name, JobName: job, Phase: v1alpha1.PhaseQueued, Reason: v1alpha1.ReasonQueued, Message: waits(job, queue), Attempt: 1}
	}
	queuedRun := func(what, job, queue string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonQueued, fmt.Sprintf(render.FmtQueuedRun, what, waits(job, queue), done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	running := func(index int, name, job string, done, of int) map[string]cond {
		return shown(v1alpha1.ReasonStepRunning, fmt.Sprintf(render.FmtRunning, index, name, job, done, of),
			v1alpha1.ConditionProgressing, v1alpha1.ConditionReconciling)
	}
	inQueue := func(w *fixtures.SequentialJobWrapper) *fixtures.Sim {
		return fixtures.NewSim(w.Queue("team-a").Obj(), t0)
	}
	// admitted: build's Job was admitted a minute after it was queued.
	admitted := func(w *fixtures.SequentialJobWrapper) *fixtures.Sim {
		s := inQueue(w)
		s.Render()
		s.Advance(time.Minute).Admit("pipeline-0").Render()
		return s
	}

	cases := map[string]struct {
		reason string
		sim    func() *fixtures.Sim
		want   want
	}{
		"StepCreatedSuspendedInQueue": {
			reason: "The first step's Job is created suspended with the queue and priority labels; the step and the run are Queued, with a message naming the queue.",
			sim: func() *fixtures.Sim {
				w := pipeline()
				w.Labels = map[string]string{v1alpha1.LabelPriorityClass: "batch-low"}
				return inQueue(w)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseQueued,
					Conditions: queuedRun("step 0 (build)", "pipeline-0", "team-a", 0, 3),
					Job:        "pipeline-0",
					Events:     []string{v1alpha1.EventStepStarted, v1alpha1.ReasonQueued},
					Written:    true,
				},
				Steps:      []step{queued("build", "pipeline-0", "team-a"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				JobSuspend: ptr.To(true),
				JobLabels:  map[string]string{v1alpha1.LabelQueueName: "team-a", v1alpha1.LabelPriorityClass: "batch-low"},
				QueueTime:  at(0), ActiveStartTime: at(0),
			},
		},
		"WaitsForAdmission": {
			reason: "While Kueue holds the Job suspended nothing changes, and the controller never unsuspends it.",
			sim: func() *fixtures.Sim {
				s := inQueue(pipeline())
				s.Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome:   outcome{Phase: v1alpha1.PhaseQueued, Conditions: queuedRun("step 0 (build)", "pipeline-0", "team-a", 0, 3)},
				Steps:     []step{queued("build", "pipeline-0", "team-a"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				QueueTime: at(0), ActiveStartTime: at(0),
			},
		},
		"AdmittedRuns": {
			reason: "Once Kueue unsuspends the Job, the step and the run are Running, with a StepAdmitted event; the minute queued moves the clock.",
			sim: func() *fixtures.Sim {
				s := inQueue(pipeline())
				s.Render()
				return s.Advance(time.Minute).Admit("pipeline-0")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Events:     []string{v1alpha1.EventStepAdmitted},
					Written:    true,
				},
				Steps:           []step{runs("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(time.Minute),
			},
		},
		"NextStepQueuedAgain": {
			reason: "Each step waits for its own admission: once build completes, test's Job is created suspended and the run is Queued again.",
			sim: func() *fixtures.Sim {
				return admitted(pipeline()).Advance(time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseQueued,
					Conditions: queuedRun("step 1 (test)", "pipeline-1", "team-a", 1, 3),
					Job:        "pipeline-1",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted, v1alpha1.ReasonQueued},
					Written:    true,
				},
				Steps:      []step{done("build", "pipeline-0"), queued("test", "pipeline-1", "team-a"), pending("deploy", "pipeline-2")},
				JobSuspend: ptr.To(true),
				JobLabels:  map[string]string{v1alpha1.LabelQueueName: "team-a"},
				QueueTime:  at(2 * time.Minute), ActiveStartTime: at(time.Minute),
			},
		},
		"QueueWaitNotCountedAgainstDeadline": {
			reason: "runDeadlineSeconds counts from admission: 120s from t0+3m, seen at t0+4m, passes in a minute.",
			sim: func() *fixtures.Sim {
				s := inQueue(pipeline().RunDeadline(120))
				s.Render()
				s.Advance(3 * time.Minute).Admit("pipeline-0").Render()
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Requeue:    render.Requeue{After: time.Minute},
				},
				Steps:           []step{runs("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(3 * time.Minute),
			},
		},
		"DeadlineNotCheckedWhileQueued": {
			reason: "A step waiting in its queue does not fail by the run deadline, however long it waits, and sets no deadline requeue.",
			sim: func() *fixtures.Sim {
				s := inQueue(pipeline().RunDeadline(60))
				s.Render()
				return s.Advance(time.Hour)
			},
			want: want{
				Outcome:   outcome{Phase: v1alpha1.PhaseQueued, Conditions: queuedRun("step 0 (build)", "pipeline-0", "team-a", 0, 3)},
				Steps:     []step{queued("build", "pipeline-0", "team-a"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				QueueTime: at(0), ActiveStartTime: at(0),
			},
		},
		"FinallyStepQueued": {
			reason: "A finally step waits in the queue too, and the run is Queued at it; its wait does not stop the clock (queueTime stays unset).",
			sim: func() *fixtures.Sim {
				return admitted(fixtures.MakeSequentialJob("default", "pipeline").Steps("build").Finally("cleanup")).
					Advance(time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseQueued,
					Conditions: queuedRun("finally step 0 (cleanup)", "pipeline-f0", "team-a", 1, 1),
					Job:        "pipeline-f0",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted, v1alpha1.ReasonQueued},
					Written:    true,
				},
				Steps:           []step{done("build", "pipeline-0")},
				JobSuspend:      ptr.To(true),
				JobLabels:       map[string]string{v1alpha1.LabelQueueName: "team-a"},
				ActiveStartTime: at(time.Minute),
			},
		},
		"QueueLabelAddedMidRun": {
			reason: "The label is read as each step starts: added while build runs, it leaves build's Job alone and queues test's.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.SJ.Labels = map[string]string{v1alpha1.LabelQueueName: "team-a"}
				return s.Advance(time.Minute).Complete("pipeline-0", "")
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseQueued,
					Conditions: queuedRun("step 1 (test)", "pipeline-1", "team-a", 1, 3),
					Job:        "pipeline-1",
					Events:     []string{v1alpha1.EventStepSucceeded, v1alpha1.EventStepStarted, v1alpha1.ReasonQueued},
					Written:    true,
				},
				Steps:      []step{done("build", "pipeline-0"), queued("test", "pipeline-1", "team-a"), pending("deploy", "pipeline-2")},
				JobSuspend: ptr.To(true),
				JobLabels:  map[string]string{v1alpha1.LabelQueueName: "team-a"},
				QueueTime:  at(time.Minute), ActiveStartTime: at(0),
			},
		},
		"SuspendedJobWithoutQueueResumed": {
			reason: "Without a queue label a suspended step Job is not queued: the controller resumes it to match spec.suspend, whoever suspended it.",
			sim: func() *fixtures.Sim {
				s := fixtures.NewSim(pipeline().Obj(), t0)
				s.Render()
				s.Job("pipeline-0").Spec.Suspend = ptr.To(true)
				return s.Advance(time.Minute)
			},
			want: want{
				Outcome: outcome{
					Phase:      v1alpha1.PhaseRunning,
					Conditions: running(0, "build", "pipeline-0", 0, 3),
					Controls:   []control{{Job: "pipeline-0", Suspend: ptr.To(false)}},
				},
				Steps:           []step{runs("build", "pipeline-0"), pending("test", "pipeline-1"), pending("deploy", "pipeline-2")},
				ActiveStartTime: at(0),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			d := tc.sim().Render()
			got := want{Outcome: outcomeOf(d), Steps: stepsOf(d.Status.Steps),
				QueueTime: timeOf(d.Status.QueueTime), ActiveStartTime: timeOf(d.Status.ActiveStartTime)}
			if d.Job != nil {
				got.JobSuspend = d.Job.Spec.Suspend
				for _, k := range kueueLabels {
					if v, ok := d.Job.Labels[k]; ok {
						if got.JobLabels == nil {
							got.JobLabels = map[string]string{}
						}
						got.JobLabels[k] = v
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
