package reconciler_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/testenv"
)

// env is one real kube-apiserver and etcd shared by this package's tests;
// each test works in a namespace of its own.
var env *testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv("TESTENV_VERBOSE") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	}
	var err error
	if env, err = testenv.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

const (
	waitFor = 90 * time.Second
	tick    = 50 * time.Millisecond
)

// startController runs a manager with the reconciler until the returned stop
// function is called (or the test ends). Each option may change the
// reconciler first, for example to wrap its client.
func startController(t *testing.T, options ...func(*reconciler.Reconciler)) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  reconciler.CacheOptions(),
		// Tests restart the controller in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	r, err := reconciler.New(mgr, nil)
	require.NoError(t, err)
	for _, option := range options {
		option(r)
	}
	require.NoError(t, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(ctx)
	}()
	var once bool
	stop = func() {
		if !once {
			once = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// newNamespace creates a namespace for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sqj-"}}
	require.NoError(t, env.Client.Create(context.Background(), ns))
	return ns.Name
}

func getSJ(t testing.TB, sj *v1alpha1.SequentialJob) *v1alpha1.SequentialJob {
	t.Helper()
	out := &v1alpha1.SequentialJob{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(sj), out))
	return out
}

// waitForJob waits for step index's Job and returns it.
func waitForJob(t testing.TB, sj *v1alpha1.SequentialJob, index int) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{}
	key := client.ObjectKey{Namespace: sj.Namespace, Name: render.JobName(sj.Name, index)}
	require.Eventually(t, func() bool { return env.Client.Get(context.Background(), key, job) == nil },
		waitFor, tick, "Job %s was never created", key.Name)
	return job
}

// jobsOf lists the Jobs labelled for sj, straight from the apiserver.
func jobsOf(t *testing.T, sj *v1alpha1.SequentialJob) []batchv1.Job {
	t.Helper()
	list := &batchv1.JobList{}
	require.NoError(t, env.Client.List(context.Background(), list, client.InNamespace(sj.Namespace),
		client.MatchingLabels{v1alpha1.LabelSequentialJob: sj.Name}))
	return list.Items
}

// waitForPhase waits until sj's status reaches phase.
func waitForPhase(t testing.TB, sj *v1alpha1.SequentialJob, phase v1alpha1.Phase) *v1alpha1.SequentialJob {
	t.Helper()
	var got *v1alpha1.SequentialJob
	require.Eventually(t, func() bool {
		got = getSJ(t, sj)
		return got.Status.Phase == phase
	}, waitFor, tick, "SequentialJob never reached phase %s", phase)
	return got
}

// eventCounts counts the events recorded on sj by reason and message,
// including the repeats an event series folds into one object.
func eventCounts(t *testing.T, sj *v1alpha1.SequentialJob) map[string]int {
	t.Helper()
	list := &eventsv1.EventList{}
	require.NoError(t, env.Client.List(context.Background(), list, client.InNamespace(sj.Namespace)))
	out := map[string]int{}
	for _, e := range list.Items {
		if e.Regarding.Name != sj.Name || e.Regarding.Kind != "SequentialJob" {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		out[e.Reason+": "+e.Note] += n
	}
	return out
}

// eventReasons lists the reasons of the events recorded on sj, oldest first.
func eventReasons(t *testing.T, sj *v1alpha1.SequentialJob) map[string][]string {
	t.Helper()
	list := &eventsv1.EventList{}
	require.NoError(t, env.Client.List(context.Background(), list, client.InNamespace(sj.Namespace)))
	out := map[string][]string{}
	for _, e := range list.Items {
		if e.Regarding.Name == sj.Name && e.Regarding.Kind == "SequentialJob" {
			out[e.Type] = append(out[e.Type], e.Reason)
		}
	}
	return out
}
