package soak

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/test/testenv"
)

var (
	durationFlag = flag.Duration("soak.duration", 0, "how long the stream of runs goes on (make soak: SOAK=60m); 0 skips the soak")
	everyFlag    = flag.Duration("soak.every", time.Second, "a new SequentialJob every this long")
	inflightFlag = flag.Int("soak.inflight", 40, "at most this many runs at once (created and not gone); a creation waits beyond it, so that a slow cluster does not pile runs up")
	podFlag      = flag.Duration("soak.pod", time.Second, "how long each step's pod runs on the kwok node (some steps run 4 times as long)")
	sampleFlag   = flag.Duration("soak.sample", 10*time.Second, "how often the controller's figures are sampled; the table prints one row a minute")
	nsFlag       = flag.Int("soak.namespaces", 4, "namespaces the runs are spread over")
)

// controllerUser is the controller's own identity, bound by the shipped
// ClusterRole only, as in test/bench.
const controllerUser = "sequentialjob-controller"

// TestSoak runs a steady stream of SequentialJobs for -soak.duration: one
// created every -soak.every, of six kinds in turn (plain and deleted by the
// soak once ended, expiring by TTL, edited mid-run, suspended and resumed,
// retried after failing, deleted mid-run), against the controller built
// from this checkout, running as its own process and user. It samples the
// controller's RSS, goroutines, heap in use, cache objects, in-memory
// tables and metric series every -soak.sample and prints them once a
// minute. It fails when one of them grows by more than 10% over the
// second half (rule_test.go), when a run is lost or a step or event
// doubled, or when anything is left once every run is gone.
func TestSoak(t *testing.T) {
	if *durationFlag == 0 {
		t.Skip("the soak runs only with -soak.duration (make soak)")
	}
	// The soak's own informers log through controller-runtime: nothing of
	// theirs is a figure.
	ctrllog.SetLogger(logr.Discard())
	total := *durationFlag
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	dataDir, err := os.MkdirTemp("", "sequentialjob-soak-")
	require.NoError(t, err)
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: testenv.BinDir(), DataDir: filepath.Join(dataDir, "cluster"), CRDPath: testenv.CRDPath()})
	require.NoError(t, err, "starting the local cluster (make bin builds its binaries)")
	t.Cleanup(func() {
		if t.Failed() {
			cluster.SetKeepData(true)
			t.Logf("component logs (the controller's too) are in %s", cluster.LogDir())
		}
		cluster.Stop()
		if !t.Failed() {
			_ = os.RemoveAll(dataDir)
		}
	})
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	// The soak's own client: the default 5 requests per second would
	// throttle the stream itself.
	cfg := rest.CopyConfig(cluster.Config)
	cfg.QPS, cfg.Burst = 200, 400
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)

	var namespaces []string
	for i := range *nsFlag {
		ns := fmt.Sprintf("soak-%d", i)
		require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		namespaces = append(namespaces, ns)
	}
	rec := startWatches(ctx, t, cfg, scheme, namespaces)
	metricsAddr, err := localcluster.FreeLocalAddr()
	require.NoError(t, err)
	controller := startController(ctx, t, cluster, c, "--metrics-bind-address="+metricsAddr, "--metrics-secure=false")
	t.Logf("controller pid %d, metrics on %s; soaking for %s: a run every %s, at most %d at once, pods of %s",
		controller.Pid(), metricsAddr, total, *everyFlag, *inflightFlag, *podFlag)

	s := &soak{t: t, c: c, rec: rec, act: &actor{c: c}, namespaces: namespaces, metricsAddr: metricsAddr}
	start := time.Now()
	s.stream(ctx, start, total)
	streamed := time.Since(start)

	// Drain: no new run; the ones in flight end (and go, by TTL or by the
	// soak's delete).
	drainStart := time.Now()
	left := s.drain(ctx, 5*time.Minute)
	t.Logf("drained in %s; %d runs left", time.Since(drainStart).Round(time.Second), len(left))

	// Idle: every run is gone, so should be everything the controller held
	// for them.
	idle, idleErr := s.idle(ctx, 2*time.Minute)
	s.printRow("idle", time.Since(start), idle)

	s.report(total, streamed)
	if exited, err := controller.Exited(); exited {
		t.Errorf("the controller exited during the soak: %v", err)
	}
	require.Empty(t, left, "runs that never went (lost)")
	require.NoError(t, idleErr, "once every run was gone")
}

// soak is one soak's state.
type soak struct {
	t           *testing.T
	c           client.Client
	rec         *recorder
	act         *actor
	namespaces  []string
	metricsAddr string

	mu      sync.Mutex
	runs    []*run
	samples []sample
	// created, skipped are the runs created, and the creations that waited
	// because -soak.inflight runs were in flight.
	created, skipped int
	scrapeErrs       int
}

// stream creates runs, acts on them and samples the controller until
// total has passed.
func (s *soak) stream(ctx context.Context, start time.Time, total time.Duration) {
	create := time.NewTicker(*everyFlag)
	defer create.Stop()
	act := time.NewTicker(500 * time.Millisecond)
	defer act.Stop()
	sampleTick := time.NewTicker(*sampleFlag)
	defer sampleTick.Stop()
	end := time.After(total)
	nextRow := time.Minute
	s.t.Logf("%-6s %10s %10s %10s %16s %7s %7s %7s %7s  %s", "minute", "RSS", "goroutines", "heap", "cache sj/job/pod", "expect", "retries", "handoff", "series", "runs created/gone/in flight")
	s.printRow("0", 0, s.sample(0))
	for {
		select {
		case <-ctx.Done():
			return
		case <-end:
			s.sample(time.Since(start))
			return
		case <-create.C:
			s.create(ctx)
		case <-act.C:
			s.actAll(ctx)
		case <-sampleTick.C:
			at := time.Since(start)
			values := s.sample(at)
			if at >= nextRow {
				s.printRow(fmt.Sprintf("%d", int(at.Round(time.Minute)/time.Minute)), at, values)
				nextRow += time.Minute
			}
		}
	}
}

// sample scrapes the controller once and keeps the figures.
func (s *soak) sample(at time.Duration) map[string]float64 {
	values, err := scrape(s.metricsAddr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.scrapeErrs++
		s.t.Logf("scrape at %s: %v", at.Round(time.Second), err)
		return nil
	}
	s.samples = append(s.samples, sample{at: at, values: values})
	return values
}

func (s *soak) printRow(label string, _ time.Duration, v map[string]float64) {
	if v == nil {
		return
	}
	createdN, goneN, inflight := s.counts()
	s.t.Logf("%-6s %10s %10.0f %10s %16s %7.0f %7.0f %7.0f %7.0f  %d/%d/%d", label,
		fmt.Sprintf("%.1fMiB", v[figRSS]/(1<<20)), v[figGoroutines], fmt.Sprintf("%.1fMiB", v[figHeap]/(1<<20)),
		fmt.Sprintf("%.0f/%.0f/%.0f", v[figCacheSJ], v[figCacheJobs], v[figCachePods]),
		v[figExpectations], v[figRetries], v[figHandoffs], v[figSeries], createdN, goneN, inflight)
}

// counts are the runs created, gone, and in flight (created, not gone).
func (s *soak) counts() (created, gone, inflight int) {
	s.mu.Lock()
	runs := append([]*run(nil), s.runs...)
	s.mu.Unlock()
	for _, r := range runs {
		if _, isGone := s.rec.latest(r.uid); isGone {
			gone++
		}
	}
	return len(runs), gone, len(runs) - gone
}

// create creates the next run, unless -soak.inflight are in flight.
func (s *soak) create(ctx context.Context) {
	if _, _, inflight := s.counts(); inflight >= *inflightFlag {
		s.mu.Lock()
		s.skipped++
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	i := s.created
	s.created++
	s.mu.Unlock()
	k := kind(i % int(kinds))
	r := &run{ns: s.namespaces[i%len(s.namespaces)], name: fmt.Sprintf("r%05d-%s", i, k), kind: k, created: time.Now()}
	sj := spec(r.ns, r.name, k, *podFlag)
	if err := s.c.Create(ctx, sj); err != nil {
		s.act.fail(r, "create: %v", err)
		return
	}
	r.uid = sj.UID
	s.mu.Lock()
	s.runs = append(s.runs, r)
	s.mu.Unlock()
}

// actAll acts on every run in flight, from the soak's cache.
func (s *soak) actAll(ctx context.Context) {
	s.mu.Lock()
	runs := append([]*run(nil), s.runs...)
	s.mu.Unlock()
	now := time.Now()
	for _, r := range runs {
		sj, gone := s.rec.latest(r.uid)
		if sj == nil || gone {
			continue
		}
		s.act.act(ctx, r, sj, now)
	}
}

// drain acts until every run is gone, or timeout; it returns the runs left.
func (s *soak) drain(ctx context.Context, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		s.actAll(ctx)
		var left []string
		s.mu.Lock()
		runs := append([]*run(nil), s.runs...)
		s.mu.Unlock()
		for _, r := range runs {
			if _, gone := s.rec.latest(r.uid); !gone {
				left = append(left, r.key())
			}
		}
		if len(left) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			if len(left) > 0 {
				for _, name := range left[:min(len(left), 10)] {
					s.t.Logf("not gone: %s", name)
				}
			}
			return left
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// idle waits until the cluster holds no Job or pod of the soak and the
// controller holds nothing for it: no cached object of the soak and no
// entry in its tables. It returns the last figures, and what was left.
func (s *soak) idle(ctx context.Context, timeout time.Duration) (map[string]float64, error) {
	var last map[string]float64
	var left string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var problems []string
		for _, ns := range s.namespaces {
			jobs, pods := &batchv1.JobList{}, &corev1.PodList{}
			if err := s.c.List(ctx, jobs, client.InNamespace(ns)); err != nil {
				return false, nil
			}
			if err := s.c.List(ctx, pods, client.InNamespace(ns)); err != nil {
				return false, nil
			}
			if len(jobs.Items)+len(pods.Items) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %d Jobs, %d pods left in the cluster", ns, len(jobs.Items), len(pods.Items)))
			}
		}
		values, err := scrape(s.metricsAddr)
		if err != nil {
			return false, nil
		}
		last = values
		for _, f := range []string{figCacheSJ, figCacheJobs, figCachePods, figExpectations, figRetries, figHandoffs} {
			if values[f] != 0 {
				problems = append(problems, fmt.Sprintf("the controller still holds %s: %.0f", f, values[f]))
			}
		}
		left = strings.Join(problems, "; ")
		return len(problems) == 0, nil
	})
	if err != nil {
		return last, fmt.Errorf("%s", left)
	}
	return last, nil
}

// report prints the verdicts: each figure's growth, then every run's
// check, and fails the test on either.
func (s *soak) report(total, streamed time.Duration) {
	t := s.t
	s.mu.Lock()
	samples := append([]sample(nil), s.samples...)
	runs := append([]*run(nil), s.runs...)
	s.mu.Unlock()
	t.Logf("streamed for %s: %d runs created (%d creations waited for -soak.inflight), %d samples, %d failed scrapes",
		streamed.Round(time.Second), len(runs), s.skipped, len(samples), s.scrapeErrs)
	t.Logf("growth over the second half (mean of the last quarter against the mean of the second; fails above +%.0f%% plus the figure's slack):", 100*maxGrowth)
	for _, f := range watched {
		g := growthOf(f, samples, total)
		t.Logf("  %s", g)
		if g.n2 == 0 || g.n4 == 0 {
			t.Errorf("%s: too few samples for the rule (the soak is shorter than 4 samples)", f.name)
		} else if g.grew() {
			t.Errorf("%s grew over the second half: %s", f.name, g)
		}
	}

	byKind := map[kind]int{}
	var problems []string
	jobs, events := 0, 0
	var expired []time.Duration
	for _, r := range runs {
		v := s.rec.check(r)
		if v.expiredAfter > 0 {
			expired = append(expired, v.expiredAfter)
		}
		byKind[r.kind]++
		jobs += v.jobs
		events += v.events
		for _, p := range v.problems {
			problems = append(problems, r.key()+": "+p)
		}
	}
	var kindsSeen []string
	for k := range kinds {
		kindsSeen = append(kindsSeen, fmt.Sprintf("%s %d", k, byKind[k]))
	}
	t.Logf("runs checked: %d (%s); %d Jobs, %d transition events", len(runs), strings.Join(kindsSeen, ", "), jobs, events)
	if len(expired) > 0 {
		slices.Sort(expired)
		t.Logf("runs with ttlSecondsAfterFinished: %d, gone %s after they completed at the median, %s at most (TTL %ds)",
			len(expired), expired[len(expired)/2].Round(100*time.Millisecond), expired[len(expired)-1].Round(100*time.Millisecond), ttl)
	}
	s.act.mu.Lock()
	errs := s.act.errs
	s.act.mu.Unlock()
	if len(errs) > 0 {
		t.Errorf("the soak's own requests failed:\n  %s", join(errs))
	}
	if len(problems) > 0 {
		t.Errorf("%d problems (lost, doubled or repeated), the first ones:\n  %s", len(problems), join(problems[:min(len(problems), 40)]))
	} else {
		t.Logf("nothing lost or doubled: every ended run has one Job per step and attempt, each named in its status, and each transition's event once")
	}
}

// startWatches starts the soak's own watches on the runs, their Jobs and
// their events, and returns their recorder once they have synced.
func startWatches(ctx context.Context, t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, namespaces []string) *recorder {
	t.Helper()
	ours, err := labels.NewRequirement(v1alpha1.LabelSequentialJob, selection.Exists, nil)
	require.NoError(t, err)
	byNamespace := map[string]cache.Config{}
	for _, ns := range namespaces {
		byNamespace[ns] = cache.Config{}
	}
	watch, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: byNamespace, DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{&batchv1.Job{}: {Label: labels.NewSelector().Add(*ours)}}})
	require.NoError(t, err)
	rec := newRecorder()
	for _, w := range []struct {
		obj              client.Object
		observe, deleted func(any)
	}{
		{&v1alpha1.SequentialJob{}, rec.observeRun, rec.runGone},
		{&batchv1.Job{}, rec.observeJob, nil},
		{&corev1.Event{}, rec.observeEvent, nil},
	} {
		informer, err := watch.GetInformer(ctx, w.obj)
		require.NoError(t, err)
		_, err = informer.AddEventHandler(rec.handlers(w.observe, w.deleted))
		require.NoError(t, err)
	}
	go func() { _ = watch.Start(ctx) }()
	require.True(t, watch.WaitForCacheSync(ctx))
	return rec
}

// startController builds the controller from this checkout and runs it on
// the local cluster as it runs in a cluster: as its own user, bound by the
// shipped ClusterRole only.
func startController(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, args ...string) *localcluster.Process {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sequentialjob-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sequentialjob-controller")
	build.Dir = testenv.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the controller: %s", out)
	kubeconfig := testenv.ShippedRoleKubeconfig(ctx, t, cluster, c, controllerUser)
	p, err := cluster.StartController(ctx, localcluster.ControllerOptions{Path: bin, Args: append([]string{"--kubeconfig=" + kubeconfig}, args...)})
	require.NoError(t, err)
	return p
}
