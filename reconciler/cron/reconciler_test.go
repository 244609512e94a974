package cron_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/reconciler/cron"
	"example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	if env, err = testenv.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

// startController runs the cron controller alone (no SequentialJob
// controller: runs stay as created), with a clock the test sets.
func startController(t *testing.T, clock *clocktesting.FakePassiveClock) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: reconciler.CacheOptions(), Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	r, err := cron.New(mgr)
	require.NoError(t, err)
	r.Clock = clock
	require.NoError(t, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(ctx)
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func runsOf(t *testing.T, ns string) []v1alpha1.SequentialJob {
	t.Helper()
	list := &v1alpha1.SequentialJobList{}
	require.NoError(t, env.Client.List(context.Background(), list, client.InNamespace(ns)))
	return list.Items
}

func names(runs []v1alpha1.SequentialJob) []string {
	var out []string
	for _, r := range runs {
		if r.DeletionTimestamp == nil {
			out = append(out, r.Name)
		}
	}
	return out
}

func getCron(t *testing.T, c *v1alpha1.SequentialCronJob) *v1alpha1.SequentialCronJob {
	t.Helper()
	out := &v1alpha1.SequentialCronJob{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(c), out))
	return out
}

// TestCronControllerRunOncePerTime: the controller creates the due run
// once, records it, and after a restart that lost the status write (the
// run exists, lastScheduleTime does not say so) it recognises the run by
// its name and creates no second one. Replace then deletes the active run
// and starts the next minute's.
func TestCronControllerRunOncePerTime(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sqcj-"}}
	require.NoError(t, env.Client.Create(ctx, ns))
	c := fixtures.MakeCron(ns.Name, "minutely", "* * * * *", time.Time{}).Obj()
	c.ResourceVersion, c.UID, c.Generation, c.CreationTimestamp = "", "", 0, metav1.Time{}
	require.NoError(t, env.Client.Create(ctx, c))
	first := c.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	clock := clocktesting.NewFakePassiveClock(first.Add(5 * time.Second))
	firstRun := schedule.RunName(c.Name, first)

	stop := startController(t, clock)
	require.Eventually(t, func() bool {
		got := getCron(t, c)
		return got.Status.LastScheduleTime != nil && got.Status.LastScheduleTime.Equal(&metav1.Time{Time: first}) && len(got.Status.Active) == 1
	}, 30*time.Second, 50*time.Millisecond, "the cron records its first run")
	assert.Equal(t, []string{firstRun}, names(runsOf(t, ns.Name)))
	stop()

	// The status write "lost": as if the controller died between create and status.
	lost := getCron(t, c)
	lost.Status = v1alpha1.SequentialCronJobStatus{}
	require.NoError(t, env.Client.Status().Update(ctx, lost))
	startController(t, clock)
	require.Eventually(t, func() bool {
		got := getCron(t, c)
		return got.Status.LastScheduleTime != nil && got.Status.LastScheduleTime.Equal(&metav1.Time{Time: first})
	}, 30*time.Second, 50*time.Millisecond, "the restarted controller records the run it finds")
	assert.Equal(t, []string{firstRun}, names(runsOf(t, ns.Name)), "one run for one schedule time")

	// A minute later, Replace: the active first run goes, the second starts.
	clock.SetTime(first.Add(time.Minute + 5*time.Second))
	edited := getCron(t, c)
	edited.Spec.ConcurrencyPolicy = v1alpha1.ReplaceConcurrent
	require.NoError(t, env.Client.Update(ctx, edited))
	secondRun := schedule.RunName(c.Name, first.Add(time.Minute))
	require.Eventually(t, func() bool {
		got := names(runsOf(t, ns.Name))
		return len(got) == 1 && got[0] == secondRun
	}, 30*time.Second, 50*time.Millisecond, "Replace: %s deleted, %s created", firstRun, secondRun)
	got := getCron(t, c)
	require.Len(t, got.Status.Active, 1)
	assert.Equal(t, secondRun, got.Status.Active[0].Name)
}
