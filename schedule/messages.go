package schedule

// Message formats, named so tests compare whole messages.
const (
	msgInvalidSchedule  = "spec.schedule %q does not parse: %v"
	msgInvalidTimeZone  = "spec.timeZone %q is not a known time zone: %v"
	msgScheduled        = "next run at %s"
	msgForbidHeld       = "the run of %s waits: concurrencyPolicy is Forbid and %s is active"
	msgNext             = "; next run at %s"
	msgSuspended        = "spec.suspend is true: no new runs"
	msgCreated          = "Created SequentialJob %s for %s"
	msgDeleted          = "Deleted SequentialJob %s (%s)"
	msgTooManyMissed    = "too many missed start times (more than %d) since %s: the most recent, %s, is considered; check the controller's clock and uptime"
	msgJobAlreadyActive = "Not starting a run for %s because %s is running and concurrencyPolicy is Forbid"
	msgScheduleFixed    = "the schedule parses again: %s"
)
