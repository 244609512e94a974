package render

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runClock is the run's active-time clock (see
// SequentialJobStatus.ActiveStartTime): activeStart moves later by the
// time the run spent suspended (since suspendTime), with its current
// step waiting in its queue (since queueTime), or waiting for an approval
// (since waitTime, approval.go).
type runClock struct {
	activeStart, suspendTime, queueTime, waitTime *metav1.Time
}

// activeClock is the clock after this reconcile: it starts with the first
// step, restarts with a retry, and stands still while the run is suspended
// or its current step waits in its queue, or the run waits for an approval.
func activeClock(sj *v1alpha1.SequentialJob, rec runRecord, suspended, queued, waiting bool, now metav1.Time) runClock {
	c := runClock{sj.Status.ActiveStartTime, sj.Status.SuspendTime, sj.Status.QueueTime, sj.Status.ApprovalWaitTime}
	if rec.retried {
		c = runClock{activeStart: &now}
	}
	c.activeStart, c.queueTime = held(c.activeStart, c.queueTime, queued, now)
	if c.activeStart == nil {
		for _, step := range rec.steps.entries {
			if step.StartTime != nil && (c.activeStart == nil || step.StartTime.Before(c.activeStart)) {
				c.activeStart = step.StartTime
			}
		}
	}
	c.activeStart, c.suspendTime = held(c.activeStart, c.suspendTime, suspended, now)
	c.activeStart, c.waitTime = held(c.activeStart, c.waitTime, waiting, now)
	return c
}

// held stops the clock while holding is true: since is when the hold
// began; when it ends, the start moves later by its length.
func held(start, since *metav1.Time, holding bool, now metav1.Time) (*metav1.Time, *metav1.Time) {
	switch {
	case holding && since == nil:
		return start, &now
	case !holding && since != nil:
		if start != nil {
			moved := metav1.NewTime(start.Add(now.Sub(since.Time)))
			start = &moved
		}
		return start, nil
	}
	return start, since
}

// checkDeadline fails the run when spec.runDeadlineSeconds of active time
// has passed: the running step is stopped, or the next one never starts.
// It returns the step the run stopped at, or nil while time remains.
func (d *decision) checkDeadline(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time) *stepRef {
	seconds := sj.Spec.RunDeadlineSeconds
	if seconds == nil || d.clock.activeStart == nil {
		return nil
	}
	deadline := d.clock.activeStart.Add(time.Duration(*seconds) * time.Second)
	if now.Time.Before(deadline) {
		d.deadline = &deadline
		return nil
	}
	for i := range d.steps {
		step := &d.steps[i]
		if step.Phase.Terminal() {
			continue
		}
		if step.Phase == v1alpha1.PhaseRunning {
			step.Message = fmt.Sprintf(fmtStoppedByDeadline, *seconds)
			if owned := jobOf(jobs, false, i, *step); owned != nil && resultOf(owned.job, now).phase == v1alpha1.PhaseRunning {
				d.controls = append(d.controls, jobControl{job: step.JobName, stop: true})
			}
		} else {
			step.Message = fmt.Sprintf(fmtNeverStartedDeadline, *seconds)
		}
		step.Phase, step.Reason, step.CompletionTime = v1alpha1.PhaseFailed, v1alpha1.ReasonRunDeadlineExceeded, &now
		return d.ref(false, i)
	}
	return nil
}
