// Package schedule is the pure decision of a SequentialCronJob: given the
// cron, the SequentialJobs it owns and the time, which run to create, which
// runs to delete, the status to write, the events to record and when to
// look again. It reads no clock and holds no client, as render does for a
// SequentialJob; its semantics are batch/v1 CronJob's (docs/cron.md).
package schedule

import (
	"time"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Decision is what one observation of a cron calls for.
type Decision struct {
	// Create holds the run to create, if a schedule time is due: a
	// SequentialJob with a deterministic name, so creating it twice is an
	// AlreadyExists, never a second run.
	Create *v1alpha1.SequentialJob
	// Delete lists the runs to delete: the active ones Replace ends, then
	// the finished ones beyond the history limits, oldest first.
	Delete []Deletion
	// Status is the whole status to write.
	Status v1alpha1.SequentialCronJobStatus
	// Events are the transitions to record, once the status is written.
	Events []Event
	// RequeueAfter is when the next schedule time is due; zero when none
	// is (suspended, or a schedule that does not parse: an edit of the
	// cron, which is watched, is what changes that).
	RequeueAfter time.Duration

	// scheduled is the schedule time that has run (created now, or
	// found created); held is a time Forbid holds.
	scheduled time.Time
	held      *hold
}

// Deletion is a run to delete, and why.
type Deletion struct {
	Name   string
	UID    string
	Reason string
}

// Why a run is deleted.
const (
	DeleteReplaced = "Replaced"
	DeleteHistory  = "History"
)

// Event is an event to record on the cron.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Decide decides once, on what it observed: runs are the SequentialJobs the
// cron controls (others are ignored), now is the controller's clock.
func Decide(cron *v1alpha1.SequentialCronJob, runs []v1alpha1.SequentialJob, now time.Time) Decision {
	d := Decision{}
	owned := classify(cron, runs)
	spec, problem := parse(cron)
	if problem == nil && !suspended(cron) {
		d.schedule(cron, spec, owned, now)
	}
	d.Delete = append(d.Delete, prune(cron, owned)...)
	d.Status = status(cron, owned, d, problem, spec, now)
	d.Events = append(d.Events, transitions(cron.Status, d.Status, problem, d.held)...)
	d.Events = append(d.Events, deletionEvents(d.Delete)...)
	return d
}
