package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// parsed is a cron's schedule in its time zone.
type parsed struct {
	schedule cron.Schedule
	location *time.Location
}

// next is the first schedule time after t.
func (p parsed) next(t time.Time) time.Time { return p.schedule.Next(t.In(p.location)) }

// problem is why a cron's schedule cannot be followed: the condition reason
// and the parser's own words.
type problem struct {
	reason, message string
}

// parse reads the schedule with robfig/cron's standard parser, the one
// batch/v1 CronJob uses (five fields and the @hourly family, @every), in
// spec.timeZone, UTC when unset. CEL at admission rejects what it can tell
// (the shape); this catches the rest (a minute of 61, a zone the time zone
// database does not know).
func parse(c *v1alpha1.SequentialCronJob) (parsed, *problem) {
	location := time.UTC
	if tz := ptr.Deref(c.Spec.TimeZone, ""); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return parsed{}, &problem{v1alpha1.ReasonInvalidTimeZone, fmt.Sprintf(msgInvalidTimeZone, tz, err)}
		}
		location = loc
	}
	s, err := cron.ParseStandard(c.Spec.Schedule)
	if err != nil {
		return parsed{}, &problem{v1alpha1.ReasonInvalidSchedule, fmt.Sprintf(msgInvalidSchedule, c.Spec.Schedule, err)}
	}
	return parsed{schedule: s, location: location}, nil
}

func suspended(c *v1alpha1.SequentialCronJob) bool { return ptr.Deref(c.Spec.Suspend, false) }
