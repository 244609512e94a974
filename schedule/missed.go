package schedule

import (
	"time"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// missed is what the schedule says at now: the most recent schedule time
// not yet run (zero if none), whether more than MaxMissedSchedules were
// missed, and the next schedule time after now.
type missed struct {
	last     time.Time
	tooMany  bool
	next     time.Time
	earliest time.Time
}

// missedTimes follows CronJob: the times since the last one run (or the
// cron's creation) count, but only those within startingDeadlineSeconds
// when it is set. It counts at most MaxMissedSchedules+1 of them, so a
// cron that was stopped for a year costs no more than one that was not;
// past that the most recent time is found backwards from now.
func missedTimes(c *v1alpha1.SequentialCronJob, p parsed, now time.Time) missed {
	earliest := c.CreationTimestamp.Time
	if c.Status.LastScheduleTime != nil {
		earliest = c.Status.LastScheduleTime.Time
	}
	if d := c.Spec.StartingDeadlineSeconds; d != nil {
		if windowStart := now.Add(-time.Duration(*d) * time.Second); windowStart.After(earliest) {
			earliest = windowStart
		}
	}
	m := missed{next: p.next(now), earliest: earliest}
	count := 0
	for t := p.next(earliest); !t.IsZero() && !t.After(now); t = p.next(t) {
		m.last = t
		if count++; count > v1alpha1.MaxMissedSchedules {
			m.tooMany = true
			m.last = mostRecent(p, earliest, now)
			break
		}
	}
	return m
}

// mostRecent is the last schedule time in (earliest, now]: the first
// window back from now, doubling from a minute, that holds one, searched
// forward. The window before it held none, so the search is short.
func mostRecent(p parsed, earliest, now time.Time) time.Time {
	for window := time.Minute; ; window *= 2 {
		from := now.Add(-window)
		if !from.After(earliest) {
			from = earliest
		}
		var last time.Time
		for t := p.next(from); !t.IsZero() && !t.After(now); t = p.next(t) {
			last = t
		}
		if !last.IsZero() || from.Equal(earliest) {
			return last
		}
	}
}
