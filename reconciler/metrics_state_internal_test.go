package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// TestStateGauges: the gauges `make soak` watches for leaks count the
// cached objects and the entries of the in-memory tables, and a run that is
// gone leaves no handoff mark behind.
func TestStateGauges(t *testing.T) {
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "ns", Name: name} }
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.SequentialJob{ObjectMeta: meta("a")}, &batchv1.Job{ObjectMeta: meta("a-0")}, &batchv1.Job{ObjectMeta: meta("a-1")}).Build()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, reader)
	expect, retries := newExpectations(time.Now), newRetries()
	m.track("expectations", expect.len)
	m.track("retries", retries.len)
	expect.createdJob("uid-a", "a-0")
	retries.failing("uid-a", time.Now())
	m.sawTerminal("uid-a/a-0", time.Now())

	const wantCache = `
# HELP sequentialjob_controller_cache_objects Objects in the controller's informer cache, by resource (sequentialjobs, jobs, pods).
# TYPE sequentialjob_controller_cache_objects gauge
sequentialjob_controller_cache_objects{resource="jobs"} 2
sequentialjob_controller_cache_objects{resource="pods"} 0
sequentialjob_controller_cache_objects{resource="sequentialjobs"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(wantCache), "sequentialjob_controller_cache_objects"))
	entries := func(n int) string {
		return fmt.Sprintf(`
# HELP sequentialjob_controller_bookkeeping_entries %s
# TYPE sequentialjob_controller_bookkeeping_entries gauge
sequentialjob_controller_bookkeeping_entries{table="expectations"} %[2]d
sequentialjob_controller_bookkeeping_entries{table="handoffs"} %[2]d
sequentialjob_controller_bookkeeping_entries{table="retries"} %[2]d
`, bookkeepingHelp, n)
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(entries(1)), "sequentialjob_controller_bookkeeping_entries"),
		"one run: an expectation, an error streak, a step that ended while the next could not start")
	// What cleanup forgets once the run's finalizer is removed.
	expect.forget("uid-a")
	retries.forget("uid-a")
	m.forget("uid-a")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(entries(0)), "sequentialjob_controller_bookkeeping_entries"),
		"the run is gone: nothing is left of it")
}
