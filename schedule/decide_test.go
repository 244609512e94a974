package schedule_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/fixtures"
)

// t0 is a Monday, 10:00 UTC.
var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", "2026-01-05 "+hhmm, time.UTC)
	if err != nil {
		panic(err)
	}
	return t
}

func cron(s string) *fixtures.CronWrapper {
	return fixtures.MakeCron("default", "nightly", s, at("09:59:00"))
}

// want is what a user would see after the decision: the run created, the
// runs deleted, the status fields and the events.
type want struct {
	create       string
	delete       []string
	active       []string
	lastSchedule time.Time
	ready        string // "<status>/<reason>"
	readyMessage string
	stalled      string // reason; "" means absent
	events       []string
	requeueAfter time.Duration
}

func run(c *v1alpha1.SequentialCronJob, scheduled string, phase v1alpha1.Phase, completed string) v1alpha1.SequentialJob {
	var done time.Time
	if completed != "" {
		done = at(completed)
	}
	return fixtures.Run(c, at(scheduled), phase, done)
}

func minutes(t time.Time) string { return fmt.Sprint(t.Unix() / 60) }

func TestDecide(t *testing.T) {
	every5 := cron("*/5 * * * *").Obj()
	hourly := cron("0 * * * *").Obj()
	everyMinute := cron("* * * * *").Obj()
	name := func(c *v1alpha1.SequentialCronJob, hhmm string) string { return "nightly-" + minutes(at(hhmm)) }

	foreign := run(every5, "09:50:00", v1alpha1.PhaseRunning, "")
	foreign.OwnerReferences[0].UID = "someone-else"
	deleting := run(every5, "09:30:00", v1alpha1.PhaseSucceeded, "09:31:00")
	deleting.DeletionTimestamp = &metav1.Time{Time: at("09:40:00")}

	for _, tc := range []struct {
		name, reason string
		cron         *v1alpha1.SequentialCronJob
		runs         []v1alpha1.SequentialJob
		now          time.Time
		want         want
	}{
		{
			name: "first-schedule-time-runs", reason: "the first time after the cron's creation runs",
			cron: every5, now: at("10:00:10"),
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 4*time.Minute + 50*time.Second},
		},
		{
			name: "nothing-due", reason: "no schedule time since creation: wait for the next",
			cron: cron("*/5 * * * *").Obj(), now: at("09:59:30"),
			want: want{ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:00:00Z", requeueAfter: 30 * time.Second},
		},
		{
			name: "already-ran-this-time", reason: "lastScheduleTime says the time has run",
			cron: cron("*/5 * * * *").LastSchedule(at("10:00:00")).Obj(), now: at("10:03:00"),
			want: want{lastSchedule: at("10:00:00"), ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z", requeueAfter: 2 * time.Minute},
		},
		{
			name: "restart-between-schedule-and-create", reason: "the controller was down at 10:00: the missed time runs when it is back",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Obj(), now: at("10:01:30"),
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 3*time.Minute + 30*time.Second},
		},
		{
			name: "restart-between-create-and-status", reason: "the run was created but the status not written: it is recognised by its name, never created twice",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Obj(), now: at("10:00:02"),
			runs: []v1alpha1.SequentialJob{run(every5, "10:00:00", "", "")},
			want: want{active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z", requeueAfter: 5*time.Minute - 2*time.Second},
		},
		{
			name: "missed-times-only-the-most-recent-runs", reason: "as CronJob: twelve missed times make one run, of the last",
			cron: cron("*/5 * * * *").LastSchedule(at("09:00:00")).Obj(), now: at("10:01:00"),
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 4 * time.Minute},
		},
		{
			name: "starting-deadline-passed", reason: "10:00 is five minutes ago, past startingDeadlineSeconds 60: skipped",
			cron: cron("0 * * * *").LastSchedule(at("09:00:00")).Deadline(60).Obj(), now: at("10:05:00"),
			want: want{lastSchedule: at("09:00:00"), ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T11:00:00Z", requeueAfter: 55 * time.Minute},
		},
		{
			name: "starting-deadline-not-passed", reason: "10:00 is five minutes ago, within startingDeadlineSeconds 600: it runs late",
			cron: cron("0 * * * *").LastSchedule(at("09:00:00")).Deadline(600).Obj(), now: at("10:05:00"),
			want: want{create: name(hourly, "10:00:00"), active: []string{name(hourly, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T11:00:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 55 * time.Minute},
		},
		{
			name: "too-many-missed", reason: "a day of missed minutes: a Warning, and only the most recent runs, without counting them all",
			cron: cron("* * * * *").LastSchedule(t0.Add(-24 * time.Hour)).Obj(), now: at("10:00:30"),
			want: want{create: name(everyMinute, "10:00:00"), active: []string{name(everyMinute, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:01:00Z",
				events: []string{
					"Warning TooManyMissedTimes too many missed start times (more than 100) since 2026-01-04T10:00:00Z: the most recent, 2026-01-05T10:00:00Z, is considered; check the controller's clock and uptime",
					"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 30 * time.Second},
		},
		{
			name: "too-many-missed-within-deadline", reason: "startingDeadlineSeconds bounds what counts as missed: no Warning",
			cron: cron("* * * * *").LastSchedule(t0.Add(-24 * time.Hour)).Deadline(200).Obj(), now: at("10:00:30"),
			want: want{create: name(everyMinute, "10:00:00"), active: []string{name(everyMinute, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:01:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 30 * time.Second},
		},
		{
			name: "allow-runs-beside-active", reason: "Allow starts the run while the last is active",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseRunning, "")},
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "09:55:00"), name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 5 * time.Minute},
		},
		{
			name: "forbid-holds-while-active", reason: "Forbid does not start a run while one is active; the time waits, lastScheduleTime stays",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ForbidConcurrent).Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseRunning, "")},
			want: want{active: []string{name(every5, "09:55:00")}, lastSchedule: at("09:55:00"),
				ready:        "True/Scheduled",
				readyMessage: "the run of 2026-01-05T10:00:00Z waits: concurrencyPolicy is Forbid and nightly-" + minutes(at("09:55:00")) + " is active; next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal JobAlreadyActive Not starting a run for 2026-01-05T10:00:00Z because nightly-" + minutes(at("09:55:00")) + " is running and concurrencyPolicy is Forbid"},
				requeueAfter: 5 * time.Minute},
		},
		{
			name: "forbid-held-again-no-second-event", reason: "an event once per held time, not per reconcile",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ForbidConcurrent).WithStatus(v1alpha1.SequentialCronJobStatus{
				LastScheduleTime: &metav1.Time{Time: at("09:55:00")},
				Conditions: []metav1.Condition{{Type: "Ready", Status: "True", Reason: "Scheduled",
					Message: "the run of 2026-01-05T10:00:00Z waits: concurrencyPolicy is Forbid and nightly-" + minutes(at("09:55:00")) + " is active; next run at 2026-01-05T10:05:00Z"}}}).Obj(),
			now:  at("10:01:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseRunning, "")},
			want: want{active: []string{name(every5, "09:55:00")}, lastSchedule: at("09:55:00"),
				ready:        "True/Scheduled",
				readyMessage: "the run of 2026-01-05T10:00:00Z waits: concurrencyPolicy is Forbid and nightly-" + minutes(at("09:55:00")) + " is active; next run at 2026-01-05T10:05:00Z",
				requeueAfter: 4 * time.Minute},
		},
		{
			name: "forbid-held-time-runs-once-active-ends", reason: "the held time runs as soon as the active run ends",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ForbidConcurrent).Obj(), now: at("10:02:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseSucceeded, "10:02:00")},
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 3 * time.Minute},
		},
		{
			name: "forbid-held-past-deadline-skipped", reason: "a held time past startingDeadlineSeconds is skipped once the active run ends",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ForbidConcurrent).Deadline(60).Obj(), now: at("10:03:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseSucceeded, "10:03:00")},
			want: want{lastSchedule: at("09:55:00"), ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z", requeueAfter: 2 * time.Minute},
		},
		{
			name: "replace-deletes-active-and-starts", reason: "Replace deletes the active run and starts the new one",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ReplaceConcurrent).Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseRunning, "")},
			want: want{create: name(every5, "10:00:00"), delete: []string{name(every5, "09:55:00") + " Replaced"}, active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events: []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z",
					"Normal SuccessfulDelete Deleted SequentialJob nightly-" + minutes(at("09:55:00")) + " (Replaced)"},
				requeueAfter: 5 * time.Minute},
		},
		{
			name: "replace-nothing-active", reason: "Replace with nothing active just starts",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Policy(v1alpha1.ReplaceConcurrent).Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseFailed, "09:58:00")},
			want: want{create: name(every5, "10:00:00"), active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: 5 * time.Minute},
		},
		{
			name: "suspended", reason: "spec.suspend: a due time does not run, and nothing to wait for",
			cron: cron("*/5 * * * *").LastSchedule(at("09:55:00")).Suspend().Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:55:00", v1alpha1.PhaseRunning, "")},
			want: want{active: []string{name(every5, "09:55:00")}, lastSchedule: at("09:55:00"), ready: "True/Suspended", readyMessage: "spec.suspend is true: no new runs"},
		},
		{
			name: "suspended-still-prunes-history", reason: "history limits hold while suspended",
			cron: cron("*/5 * * * *").Suspend().History(0, 0).Obj(), now: at("10:00:00"),
			runs: []v1alpha1.SequentialJob{run(every5, "09:40:00", v1alpha1.PhaseSucceeded, "09:41:00")},
			want: want{delete: []string{name(every5, "09:40:00") + " History"}, lastSchedule: time.Time{}, ready: "True/Suspended", readyMessage: "spec.suspend is true: no new runs",
				events: []string{"Normal SuccessfulDelete Deleted SequentialJob nightly-" + minutes(at("09:40:00")) + " (History)"}},
		},
		{
			name: "history-successful-limit", reason: "five succeeded runs, limit 3: the two that completed first go",
			cron: cron("*/5 * * * *").LastSchedule(at("10:00:00")).Obj(), now: at("10:01:00"),
			runs: []v1alpha1.SequentialJob{
				run(every5, "09:40:00", v1alpha1.PhaseSucceeded, "09:59:00"), // completed last of all, though scheduled first
				run(every5, "09:45:00", v1alpha1.PhaseSucceeded, "09:46:00"),
				run(every5, "09:50:00", v1alpha1.PhaseSucceeded, "09:51:00"),
				run(every5, "09:55:00", v1alpha1.PhaseSucceeded, "09:56:00"),
				run(every5, "10:00:00", v1alpha1.PhaseSucceeded, "09:58:00"),
			},
			want: want{delete: []string{name(every5, "09:45:00") + " History", name(every5, "09:50:00") + " History"}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events: []string{"Normal SuccessfulDelete Deleted SequentialJob nightly-" + minutes(at("09:45:00")) + " (History)",
					"Normal SuccessfulDelete Deleted SequentialJob nightly-" + minutes(at("09:50:00")) + " (History)"},
				requeueAfter: 4 * time.Minute},
		},
		{
			name: "history-failed-limit-default", reason: "failedRunsHistoryLimit 1: the older failed run goes, running and succeeded ones stay",
			cron: cron("*/5 * * * *").LastSchedule(at("10:00:00")).Obj(), now: at("10:01:00"),
			runs: []v1alpha1.SequentialJob{
				run(every5, "09:45:00", v1alpha1.PhaseFailed, "09:46:00"),
				run(every5, "09:50:00", v1alpha1.PhaseFailed, "09:51:00"),
				run(every5, "09:55:00", v1alpha1.PhaseSucceeded, "09:56:00"),
				run(every5, "10:00:00", v1alpha1.PhaseRunning, ""),
			},
			want: want{delete: []string{name(every5, "09:45:00") + " History"}, active: []string{name(every5, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal SuccessfulDelete Deleted SequentialJob nightly-" + minutes(at("09:45:00")) + " (History)"},
				requeueAfter: 4 * time.Minute},
		},
		{
			name: "runs-being-deleted-and-foreign-ignored", reason: "a run already being deleted is neither active nor pruned again; another owner's SequentialJob is not ours",
			cron: cron("*/5 * * * *").LastSchedule(at("10:00:00")).History(0, 0).Policy(v1alpha1.ForbidConcurrent).Obj(), now: at("10:05:00"),
			runs: []v1alpha1.SequentialJob{deleting, foreign},
			want: want{create: name(every5, "10:05:00"), active: []string{name(every5, "10:05:00")}, lastSchedule: at("10:05:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:10:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:05:00")) + " for 2026-01-05T10:05:00Z"},
				requeueAfter: 5 * time.Minute},
		},
		{
			name: "time-zone", reason: "03:00 in Berlin is 02:00 UTC in winter",
			cron: fixtures.MakeCron("default", "nightly", "0 3 * * *", at("00:00:00")).TimeZone("Europe/Berlin").Obj(), now: at("02:00:30"),
			want: want{create: name(every5, "02:00:00"), active: []string{name(every5, "02:00:00")}, lastSchedule: at("02:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-06T02:00:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("02:00:00")) + " for 2026-01-05T02:00:00Z"},
				requeueAfter: 24*time.Hour - 30*time.Second},
		},
		{
			name: "time-zone-not-yet", reason: "03:00 UTC is 22:00 in New York: not 03:00 there",
			cron: fixtures.MakeCron("default", "nightly", "0 3 * * *", at("00:00:00")).TimeZone("America/New_York").Obj(), now: at("03:00:30"),
			want: want{ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T08:00:00Z", requeueAfter: 5*time.Hour - 30*time.Second},
		},
		{
			name: "time-zone-unset-is-utc", reason: "no time zone: UTC, whatever the controller's own",
			cron: fixtures.MakeCron("default", "nightly", "0 3 * * *", at("00:00:00")).Obj(), now: at("03:00:30"),
			want: want{create: name(every5, "03:00:00"), active: []string{name(every5, "03:00:00")}, lastSchedule: at("03:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-06T03:00:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("03:00:00")) + " for 2026-01-05T03:00:00Z"},
				requeueAfter: 24*time.Hour - 30*time.Second},
		},
		{
			name: "hourly-descriptor", reason: "the @hourly family",
			cron: cron("@hourly").Obj(), now: at("10:00:01"),
			want: want{create: name(hourly, "10:00:00"), active: []string{name(hourly, "10:00:00")}, lastSchedule: at("10:00:00"),
				ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T11:00:00Z",
				events:       []string{"Normal SuccessfulCreate Created SequentialJob nightly-" + minutes(at("10:00:00")) + " for 2026-01-05T10:00:00Z"},
				requeueAfter: time.Hour - time.Second},
		},
		{
			name: "invalid-schedule", reason: "a minute of 61 passes CEL's shape check; the parser's words say why, on Ready and Stalled",
			cron: cron("61 * * * *").Obj(), now: at("10:00:00"),
			want: want{ready: "False/InvalidSchedule", stalled: "InvalidSchedule",
				readyMessage: `spec.schedule "61 * * * *" does not parse: end of range (61) above maximum (59): 61`,
				events:       []string{`Warning UnparseableSchedule spec.schedule "61 * * * *" does not parse: end of range (61) above maximum (59): 61`}},
		},
		{
			name: "invalid-schedule-again-no-second-event", reason: "the Warning once, not per reconcile",
			cron: cron("61 * * * *").WithStatus(v1alpha1.SequentialCronJobStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: "False", Reason: "InvalidSchedule",
				Message: `spec.schedule "61 * * * *" does not parse: end of range (61) above maximum (59): 61`}}}).Obj(), now: at("10:00:00"),
			want: want{ready: "False/InvalidSchedule", stalled: "InvalidSchedule",
				readyMessage: `spec.schedule "61 * * * *" does not parse: end of range (61) above maximum (59): 61`},
		},
		{
			name: "invalid-time-zone", reason: "a zone the time zone database does not know",
			cron: cron("@daily").TimeZone("Mars/Olympus_Mons").Obj(), now: at("10:00:00"),
			want: want{ready: "False/InvalidTimeZone", stalled: "InvalidTimeZone",
				readyMessage: `spec.timeZone "Mars/Olympus_Mons" is not a known time zone: unknown time zone Mars/Olympus_Mons`,
				events:       []string{`Warning UnparseableSchedule spec.timeZone "Mars/Olympus_Mons" is not a known time zone: unknown time zone Mars/Olympus_Mons`}},
		},
		{
			name: "schedule-fixed", reason: "it recovers once fixed: Ready True, Stalled gone, an event",
			cron: cron("*/5 * * * *").LastSchedule(at("10:00:00")).WithStatus(v1alpha1.SequentialCronJobStatus{
				LastScheduleTime: &metav1.Time{Time: at("10:00:00")},
				Conditions: []metav1.Condition{{Type: "Ready", Status: "False", Reason: "InvalidSchedule", Message: "x"},
					{Type: "Stalled", Status: "True", Reason: "InvalidSchedule", Message: "x"}}}).Obj(), now: at("10:01:00"),
			want: want{lastSchedule: at("10:00:00"), ready: "True/Scheduled", readyMessage: "next run at 2026-01-05T10:05:00Z",
				events:       []string{"Normal ScheduleFixed the schedule parses again: next run at 2026-01-05T10:05:00Z"},
				requeueAfter: 4 * time.Minute},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := schedule.Decide(tc.cron, tc.runs, tc.now)
			assert.Empty(t, cmp.Diff(tc.want, observe(d), cmp.AllowUnexported(want{})), "%s (-want +got)", tc.reason)
		})
	}
}

// observe is what a user would see of a decision.
func observe(d schedule.Decision) want {
	var w want
	if d.Create != nil {
		w.create = d.Create.Name
	}
	for _, del := range d.Delete {
		w.delete = append(w.delete, del.Name+" "+del.Reason)
	}
	for _, ref := range d.Status.Active {
		w.active = append(w.active, ref.Name)
	}
	if d.Status.LastScheduleTime != nil {
		w.lastSchedule = d.Status.LastScheduleTime.Time
	}
	if c := meta.FindStatusCondition(d.Status.Conditions, "Ready"); c != nil {
		w.ready, w.readyMessage = string(c.Status)+"/"+c.Reason, c.Message
	}
	if c := meta.FindStatusCondition(d.Status.Conditions, "Stalled"); c != nil {
		w.stalled = c.Reason
	}
	for _, e := range d.Events {
		kind := "Normal"
		if e.Warning {
			kind = "Warning"
		}
		w.events = append(w.events, kind+" "+e.Reason+" "+e.Message)
	}
	w.requeueAfter = d.RequeueAfter
	return w
}

// TestCreatedRunIsTheTemplate: a run carries the template's spec, labels
// and annotations, the cron's label, its schedule time and the cron as
// controller, so the cron finds it again after a restart.
func TestCreatedRunIsTheTemplate(t *testing.T) {
	c := cron("*/5 * * * *").Obj()
	c.Spec.SequentialJobTemplate.Labels = map[string]string{"team": "data"}
	c.Spec.SequentialJobTemplate.Annotations = map[string]string{"note": "nightly"}
	d := schedule.Decide(c, nil, at("10:00:00"))
	require.NotNil(t, d.Create)
	run := d.Create
	assert.Equal(t, "nightly-"+minutes(at("10:00:00")), run.Name)
	assert.Equal(t, "default", run.Namespace)
	assert.Equal(t, map[string]string{"team": "data", v1alpha1.LabelSequentialCronJob: "nightly"}, run.Labels)
	assert.Equal(t, map[string]string{"note": "nightly", v1alpha1.AnnotationScheduledTime: "2026-01-05T10:00:00Z"}, run.Annotations)
	assert.Empty(t, cmp.Diff(c.Spec.SequentialJobTemplate.Spec, run.Spec))
	owner := metav1.GetControllerOf(run)
	require.NotNil(t, owner)
	assert.Equal(t, c.UID, owner.UID)
	assert.True(t, *owner.BlockOwnerDeletion)
	assert.NotContains(t, c.Spec.SequentialJobTemplate.Labels, v1alpha1.LabelSequentialCronJob, "the cron's template is not changed")
}

// TestDecideTwiceChangesNothing: deciding again on the decision's own
// result (the run created, the status written) creates nothing, deletes
// nothing, records no event and leaves the status as it is: a reconcile
// with nothing to change writes nothing.
func TestDecideTwiceChangesNothing(t *testing.T) {
	for _, c := range []*v1alpha1.SequentialCronJob{
		cron("*/5 * * * *").Obj(),
		cron("*/5 * * * *").Policy(v1alpha1.ForbidConcurrent).Obj(),
		cron("*/5 * * * *").Policy(v1alpha1.ReplaceConcurrent).Obj(),
		cron("61 * * * *").Obj(),
		cron("@daily").TimeZone("Mars/Olympus_Mons").Obj(),
		cron("*/5 * * * *").Suspend().Obj(),
	} {
		t.Run(c.Spec.Schedule+"/"+string(c.Spec.ConcurrencyPolicy), func(t *testing.T) {
			now := at("10:00:10")
			first := schedule.Decide(c, nil, now)
			var runs []v1alpha1.SequentialJob
			if first.Create != nil {
				runs = append(runs, *first.Create)
			}
			c.Status = first.Status
			second := schedule.Decide(c, runs, now.Add(time.Second))
			assert.Nil(t, second.Create)
			assert.Empty(t, second.Delete)
			assert.Empty(t, second.Events)
			assert.Empty(t, cmp.Diff(first.Status, second.Status))
		})
	}
}
