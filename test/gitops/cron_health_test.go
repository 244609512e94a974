package gitops_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/fixtures"
)

// cronFixtures are SequentialCronJobs as the controller leaves them: each
// status is schedule.Decide's, the decision the controller writes, so the
// health tests read what users will see.
func cronFixtures(t *testing.T) map[string]*v1alpha1.SequentialCronJob {
	t.Helper()
	created := time.Date(2026, 1, 5, 9, 59, 0, 0, time.UTC)
	now := created.Add(90 * time.Second)
	decided := func(w *fixtures.CronWrapper, runs ...v1alpha1.SequentialJob) *v1alpha1.SequentialCronJob {
		c := w.Obj()
		c.Status = schedule.Decide(c, runs, now).Status
		return c
	}
	running := func(c *v1alpha1.SequentialCronJob) v1alpha1.SequentialJob {
		return fixtures.Run(c, created.Add(-4*time.Minute), v1alpha1.PhaseRunning, time.Time{})
	}
	forbid := fixtures.MakeCron("default", "c", "*/5 * * * *", created).Policy(v1alpha1.ForbidConcurrent)
	lagging := decided(fixtures.MakeCron("default", "c", "*/5 * * * *", created))
	lagging.Generation = 2
	return map[string]*v1alpha1.SequentialCronJob{
		"never-reconciled":   fixtures.MakeCron("default", "c", "*/5 * * * *", created).Obj(),
		"scheduled":          decided(fixtures.MakeCron("default", "c", "*/5 * * * *", created)),
		"forbid-holds":       decided(forbid, running(forbid.Obj())),
		"suspended":          decided(fixtures.MakeCron("default", "c", "*/5 * * * *", created).Suspend()),
		"invalid-schedule":   decided(fixtures.MakeCron("default", "c", "61 * * * *", created)),
		"invalid-time-zone":  decided(fixtures.MakeCron("default", "c", "@daily", created).TimeZone("Mars/Olympus_Mons")),
		"generation-lags":    lagging,
		"schedule-fixed":     decided(fixtures.MakeCron("default", "c", "*/5 * * * *", created).WithStatus(decided(fixtures.MakeCron("default", "c", "61 * * * *", created)).Status)),
		"time-zone-followed": decided(fixtures.MakeCron("default", "c", "0 3 * * *", created).TimeZone("Europe/Berlin")),
	}
}

var cronHealthWants = map[string]healthWant{
	"never-reconciled":   {status.InProgressStatus, "Progressing", "Waiting for the SequentialCronJob controller to observe this object"},
	"scheduled":          {status.CurrentStatus, "Healthy", "condition:Ready"},
	"forbid-holds":       {status.CurrentStatus, "Healthy", "condition:Ready"},
	"suspended":          {status.CurrentStatus, "Suspended", "The cron is suspended: no new runs"},
	"invalid-schedule":   {status.FailedStatus, "Degraded", "condition:Stalled"},
	"invalid-time-zone":  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"generation-lags":    {status.InProgressStatus, "Progressing", lagMessage},
	"schedule-fixed":     {status.CurrentStatus, "Healthy", "condition:Ready"},
	"time-zone-followed": {status.CurrentStatus, "Healthy", "condition:Ready"},
}

func cronUnstructured(t *testing.T, c *v1alpha1.SequentialCronJob) *unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	require.NoError(t, err)
	// The CRD defaults status to {observedGeneration: 0} on read, so a
	// status-less cron reads as not yet reconciled (omitempty drops the 0).
	st, _ := obj["status"].(map[string]any)
	if st == nil {
		st = map[string]any{}
		obj["status"] = st
	}
	if _, ok := st["observedGeneration"]; !ok {
		st["observedGeneration"] = int64(0)
	}
	return &unstructured.Unstructured{Object: obj}
}

func cronWantMessage(c *v1alpha1.SequentialCronJob, want string) string {
	if len(want) > len("condition:") && want[:len("condition:")] == "condition:" {
		if cond := meta.FindStatusCondition(c.Status.Conditions, want[len("condition:"):]); cond != nil {
			return cond.Message
		}
		return "<no condition " + want + ">"
	}
	return want
}

// TestCronKstatus: what Flux (kstatus) says of a SequentialCronJob.
func TestCronKstatus(t *testing.T) {
	fx := cronFixtures(t)
	require.Len(t, cronHealthWants, len(fx))
	for name, c := range fx {
		t.Run(name, func(t *testing.T) {
			want, ok := cronHealthWants[name]
			require.True(t, ok, "no health want for %s", name)
			res, err := status.Compute(cronUnstructured(t, c))
			require.NoError(t, err)
			assert.Equal(t, want.kstatus, res.Status, res.Message)
		})
	}
}

// TestCronArgoCDHealth runs config/argocd/health-cron.lua as Argo CD does.
func TestCronArgoCDHealth(t *testing.T) {
	script := readScript(t, "health-cron.lua")
	for name, c := range cronFixtures(t) {
		t.Run(name, func(t *testing.T) {
			want := cronHealthWants[name]
			got, err := argoHealth(cronUnstructured(t, c), script)
			require.NoError(t, err)
			assert.Equal(t, want.argo, got.Status)
			assert.Equal(t, cronWantMessage(c, want.argoMessage), got.Message)
		})
	}
}
