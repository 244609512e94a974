package schedule

import (
	"fmt"
	"time"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// schedule decides the run of the most recent missed schedule time, by
// spec.concurrencyPolicy, and when to look again.
func (d *Decision) schedule(c *v1alpha1.SequentialCronJob, p parsed, r runs, now time.Time) {
	m := missedTimes(c, p, now)
	if !m.next.IsZero() {
		d.RequeueAfter = m.next.Sub(now)
	}
	if m.tooMany {
		d.Events = append(d.Events, Event{Warning: true, Reason: v1alpha1.EventTooManyMissedTimes,
			Message: fmt.Sprintf(msgTooManyMissed, v1alpha1.MaxMissedSchedules, formatTime(m.earliest), formatTime(m.last))})
	}
	if m.last.IsZero() {
		return
	}
	name := RunName(c.Name, m.last)
	if r.has(name) {
		// Created before a restart (or by a write the status does not show
		// yet): the time has run; status records it.
		d.scheduled = m.last
		return
	}
	switch {
	case len(r.active) == 0 || c.Spec.ConcurrencyPolicy == v1alpha1.AllowConcurrent || c.Spec.ConcurrencyPolicy == "":
	case c.Spec.ConcurrencyPolicy == v1alpha1.ForbidConcurrent:
		// Held, not skipped: the time stays missed, and runs once the
		// active run ends if it is still within startingDeadlineSeconds.
		d.held = &hold{scheduled: m.last, active: names(r.active)}
		return
	case c.Spec.ConcurrencyPolicy == v1alpha1.ReplaceConcurrent:
		for _, sj := range r.active {
			d.Delete = append(d.Delete, Deletion{Name: sj.Name, UID: string(sj.UID), Reason: DeleteReplaced})
		}
	}
	d.Create = NewRun(c, name, m.last)
	d.scheduled = m.last
	d.Events = append(d.Events, Event{Reason: v1alpha1.EventSuccessfulCreate, Message: fmt.Sprintf(msgCreated, name, formatTime(m.last))})
}

// hold is a schedule time Forbid holds while a run is active.
type hold struct {
	scheduled time.Time
	active    string
}

func (h *hold) message() string { return fmt.Sprintf(msgForbidHeld, formatTime(h.scheduled), h.active) }
