//go:build linux

package upgrade

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
)

var (
	runsFlag     = flag.Int("upgrade.runs", 6, "SequentialJobs per phase (make test-upgrade: 30)")
	stepsFlag    = flag.Int("upgrade.steps", 3, "steps per SequentialJob, at least 2 (make test-upgrade: 5)")
	durationFlag = flag.String("upgrade.duration", "1s", "how long each step's pod runs")
	captureFlag  = flag.String("upgrade.capture", "", "write what the previous release left at the upgrade (each run and its Jobs and pods) as render cases into this directory (render/testdata/upgrade-from-<commit>)")
)

const (
	systemNamespace = "sequentialjob-system"
	controllerSA    = "sequentialjob-controller"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func binDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(repoRoot(), "bin")
}

// env is the local cluster the test upgrades the controller on.
type env struct {
	t       *testing.T
	cluster *localcluster.Cluster
	k8s     client.Client
	prev    previousRelease
	current string
	// controller is the running controller, nil between two.
	controller *localcluster.Process
}

// TestUpgrade starts runs with the previous release's controller, stops it
// mid-run, applies the current CRDs and RBAC as a user upgrading would, and
// starts the current controller: every run must end as a fresh run of the
// same spec under the current controller ends (status modulo times, the same
// Jobs once each, the same transition events once each). Then the reverse:
// runs started by the current controller and finished by the previous one
// must have neither a doubled nor a lost step (docs/upgrades.md says what a
// downgrade does not keep).
func TestUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster")
	}
	require.GreaterOrEqual(t, *stepsFlag, 2, "-upgrade.steps")
	e := setUp(t)
	ctx := context.Background()
	runs, steps := *runsFlag, *stepsFlag
	// Enough for the slowest phase on 2 busy cores: the runs go at once.
	timeout := 2*time.Minute + time.Duration(runs*steps)*2*time.Second

	// 1. The previous release starts the runs.
	e.installRBAC(e.prev.RBAC())
	e.startController(e.prev.Controller)
	upgraded := newWorkload("upgraded", runs, steps)
	require.NoError(t, upgraded.create(ctx, e.k8s, *durationFlag))
	stopActing := upgraded.actUntil(ctx, e.k8s)
	e.waitMidRun(upgraded, runs*steps/3, timeout)
	e.stopController()
	atStop := e.statuses(upgraded)
	if *captureFlag != "" {
		require.NoError(t, capture(ctx, e.k8s, upgraded, e.prev, *captureFlag))
	}
	// Jobs go on without a controller, as they do while a Deployment rolls.
	time.Sleep(3 * time.Second)

	// 2. The upgrade, as a user does it: the new CRDs (server-side), the new
	// RBAC, the new controller.
	e.installCRD(filepath.Join(repoRoot(), "config", "crd", "sequentialjobs.yaml"))
	e.installCRD(filepath.Join(repoRoot(), "config", "crd", "sequentialcronjobs.yaml"))
	e.installRBAC(filepath.Join(repoRoot(), "config", "rbac"))
	e.startController(e.current)
	upgraded.resume.Store(true)
	stopActing()
	fresh := newWorkload("fresh", runs, steps)
	fresh.resume.Store(true)
	require.NoError(t, fresh.create(ctx, e.k8s, *durationFlag))
	e.finish(timeout, upgraded, fresh)
	e.compare(upgraded, fresh, true, atStop)
	if t.Failed() {
		return
	}

	// 3. The downgrade: runs of the current controller, finished by the
	// previous one after the previous CRD and RBAC are applied again.
	t.Run("downgrade", func(t *testing.T) {
		e.t = t
		downgraded := newWorkload("downgraded", runs, steps)
		require.NoError(t, downgraded.create(ctx, e.k8s, *durationFlag))
		stopActing := downgraded.actUntil(ctx, e.k8s)
		e.waitMidRun(downgraded, runs*steps/3, timeout)
		e.stopController()
		time.Sleep(3 * time.Second)
		e.installCRD(e.prev.CRD())
		e.installRBAC(e.prev.RBAC())
		e.startController(e.prev.Controller)
		downgraded.resume.Store(true)
		stopActing()
		e.finish(timeout, downgraded)
		e.compare(downgraded, fresh, false, nil)
	})
}

func setUp(t *testing.T) *env {
	t.Helper()
	root, bin := repoRoot(), binDir()
	prev, err := buildPrevious(root, bin)
	require.NoError(t, err)
	e := &env{t: t, prev: prev, current: filepath.Join(t.TempDir(), "sequentialjob-controller")}
	build := exec.Command("go", "build", "-o", e.current, "./cmd/sequentialjob-controller")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the controller: %s", out)

	dataDir, err := os.MkdirTemp("", "sequentialjob-upgrade-")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// The previous release's CRD, as its users have it installed.
	e.cluster, err = localcluster.Start(ctx, localcluster.Options{BinDir: bin, DataDir: filepath.Join(dataDir, "cluster"), CRDPath: prev.CRD()})
	require.NoError(t, err, "starting the local cluster (make bin builds its binaries)")
	t.Logf("local cluster up in %s; upgrading from %s", time.Since(start).Round(100*time.Millisecond), prev.Commit)
	t.Cleanup(func() {
		if t.Failed() {
			e.cluster.SetKeepData(true)
			t.Logf("component logs (the controllers' too) are in %s", e.cluster.LogDir())
		}
		e.cluster.Stop()
		if !t.Failed() {
			_ = os.RemoveAll(dataDir)
		}
	})
	scheme := k8sruntime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	e.k8s, err = client.New(e.cluster.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	e.apply("--server-side", "-f", filepath.Join(root, "config", "manager", "namespace.yaml"))
	return e
}

func (e *env) apply(args ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := e.cluster.Kubectl(ctx, append([]string{"apply"}, args...)...)
	require.NoError(e.t, err, "kubectl apply %v: %s", args, out)
}

// installCRD applies a CRD with kubectl apply --server-side, as a user
// installs a release, and waits until it is served. The downgrade's CRD
// takes fields the newer CRD had: kubectl's own field manager applied
// both, so nothing conflicts.
func (e *env) installCRD(path string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(e.t, e.cluster.InstallCRD(ctx, path))
}

// installRBAC applies a release's roles, and the controller then runs as
// their ServiceAccount, as the shipped Deployment does.
func (e *env) installRBAC(dir string) { e.apply("--server-side", "--force-conflicts", "-k", dir) }

func (e *env) startController(path string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubeconfig, err := e.cluster.ServiceAccountKubeconfig(ctx, systemNamespace, controllerSA, time.Hour)
	require.NoError(e.t, err)
	p, err := e.cluster.StartController(ctx, localcluster.ControllerOptions{Path: path,
		Args: []string{"--kubeconfig=" + kubeconfig, "--leader-elect", "--leader-election-namespace=" + systemNamespace}})
	require.NoError(e.t, err, "starting %s", path)
	e.controller = p
}

// stopController stops it as a rolling update does: SIGTERM, and time to
// finish its reconciles and release its Lease.
func (e *env) stopController() {
	e.t.Helper()
	require.NoError(e.t, e.controller.Stop(30*time.Second))
	e.controller = nil
}

// statuses are w's runs' statuses now.
func (e *env) statuses(w *workload) map[string]v1alpha1.SequentialJobStatus {
	e.t.Helper()
	runs, err := w.list(context.Background(), e.k8s)
	require.NoError(e.t, err)
	out := map[string]v1alpha1.SequentialJobStatus{}
	for name, sj := range runs {
		out[name] = sj.Status
	}
	return out
}

// waitMidRun waits until n steps have succeeded over w's runs.
func (e *env) waitMidRun(w *workload, n int, timeout time.Duration) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		return w.succeededSteps(ctx, e.k8s) >= n, nil
	})
	require.NoError(e.t, err, "waiting for %d steps of %s to succeed", n, w.ns)
}

// finish acts for the user until every run of ws is done.
func (e *env) finish(timeout time.Duration, ws ...*workload) {
	e.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	left := make([][]string, len(ws))
	done := make(chan int, len(ws))
	for i, w := range ws {
		go func() { left[i] = w.runUntilDone(ctx, e.k8s); done <- i }()
	}
	for range ws {
		<-done
	}
	for i, w := range ws {
		w.mu.Lock()
		require.Empty(e.t, w.errs, "%s: the user's edits", w.ns)
		w.mu.Unlock()
		if len(left[i]) > 0 {
			runs, _ := w.list(context.Background(), e.k8s)
			for _, name := range left[i] {
				if sj := runs[name]; sj != nil {
					e.t.Logf("%s/%s not done: generation %d, status %+v", w.ns, name, sj.Generation, sj.Status)
				}
			}
			require.Empty(e.t, left[i], "%s: runs that never ended in %s (lost)", w.ns, timeout)
		}
	}
	e.t.Logf("%s: every run ended %s after the controller changed", names(ws), time.Since(start).Round(100*time.Millisecond))
}

func names(ws []*workload) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.ns)
	}
	return fmt.Sprint(out)
}

// compare checks every run of got against the run of the same name in
// want: no step Job doubled, the same Jobs, in status order; and, when
// exact, the same status modulo times and the same transition events, none
// repeated.
func (e *env) compare(got, want *workload, exact bool, atStop map[string]v1alpha1.SequentialJobStatus) {
	e.t.Helper()
	ctx := context.Background()
	gotRuns, err := got.list(ctx, e.k8s)
	require.NoError(e.t, err)
	wantRuns, err := want.list(ctx, e.k8s)
	require.NoError(e.t, err)
	gotJobs, err := jobsOf(ctx, e.k8s, got.ns)
	require.NoError(e.t, err)
	wantJobs, err := jobsOf(ctx, e.k8s, want.ns)
	require.NoError(e.t, err)
	gotEvents, err := eventsOf(ctx, e.k8s, got.ns)
	require.NoError(e.t, err)
	wantEvents, err := eventsOf(ctx, e.k8s, want.ns)
	require.NoError(e.t, err)

	exactRuns, lostAtStop := 0, 0
	var problems []string
	for _, name := range got.names {
		var p []string
		g, w := gotRuns[name], wantRuns[name]
		gk, wk := keysOf(gotJobs[name]), keysOf(wantJobs[name])
		p = append(p, doubled(gk)...)
		if d := cmp.Diff(sortedKeys(wk), sortedKeys(gk)); d != "" {
			p = append(p, "Jobs (-fresh +got):\n"+d)
		}
		p = append(p, outOfOrder(g, gotJobs[name])...)
		if exact {
			if d := cmp.Diff(normalized(w.Status), normalized(g.Status)); d != "" {
				p = append(p, "status (-fresh +got):\n"+d)
			}
			p = append(p, repeated(gotEvents[name])...)
			lost, d := diffEvents(wantEvents[name], gotEvents[name], recordedAt(atStop[name]))
			lostAtStop += len(lost)
			if len(lost) > 0 {
				e.t.Logf("%s/%s: events the previous release recorded before it stopped but never posted: %v", got.ns, name, lost)
			}
			if d != "" {
				p = append(p, "events by reason and Job, with their counts (-fresh +got):\n"+d)
			}
		} else {
			p = append(p, sameSteps(g, w)...)
			if d := cmp.Diff(normalized(w.Status), normalized(g.Status)); d != "" {
				e.t.Logf("%s/%s: the previous release's status differs from the current one's (docs/upgrades.md, downgrade) (-current +previous):\n%s", got.ns, name, d)
			}
		}
		if len(p) == 0 {
			exactRuns++
			continue
		}
		for _, s := range p {
			problems = append(problems, name+": "+s)
		}
	}
	e.t.Logf("%s: %d of %d runs of %d steps end as fresh runs do (%s)", got.ns, exactRuns, len(got.names), len(got.steps), map[bool]string{true: "status, Jobs, events", false: "Jobs and step phases"}[exact])
	if exact {
		e.t.Logf("%s: %d events lost by the previous release at its stop (docs/upgrades.md)", got.ns, lostAtStop)
	}
	if len(problems) > 0 {
		e.t.Errorf("%s: runs that end otherwise than a fresh run:\n  %s", got.ns, join(problems))
	}
}

// diffEvents compares a run's events with a fresh run's. An event the fresh
// run has and got has not is allowed only when the status the previous
// release had written at its stop (recorded) already held its transition:
// that release posts events after the status write, and drops what it has
// not posted when it stops (docs/upgrades.md); the current controller must
// not post them again, and does not. Anything else is a difference.
func diffEvents(fresh, got map[string]int, recorded map[string]bool) (lost []string, diff string) {
	want := map[string]int{}
	for k, n := range fresh {
		if got[k] == 0 && recorded[k] {
			lost = append(lost, k)
			continue
		}
		want[k] = n
	}
	sort.Strings(lost)
	return lost, cmp.Diff(want, got)
}

func sortedKeys(keys []jobKey) []jobKey {
	out := append([]jobKey(nil), keys...)
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// outOfOrder lists the Jobs created out of order: the steps' current Jobs
// in status order, then the finally steps' ones, and each step's earlier
// attempts before its current Job. Creation times have second precision:
// ties pass.
func outOfOrder(sj *v1alpha1.SequentialJob, jobs []batchv1.Job) []string {
	created := map[string]int64{}
	for _, j := range jobs {
		created[j.Name] = j.CreationTimestamp.Unix()
	}
	var out []string
	var last int64
	lastName := ""
	for _, entries := range [][]v1alpha1.StepStatus{sj.Status.Steps, sj.Status.Finally} {
		for _, s := range entries {
			at, ok := created[s.JobName]
			if !ok {
				continue
			}
			if at < last {
				out = append(out, fmt.Sprintf("Job %s was created before Job %s, which status lists before it", s.JobName, lastName))
			}
			last, lastName = at, s.JobName
			for _, a := range s.PreviousAttempts {
				if before, ok := created[a.JobName]; ok && before > at {
					out = append(out, fmt.Sprintf("Job %s of attempt %d was created after Job %s of a later attempt", a.JobName, a.Attempt, s.JobName))
				}
			}
		}
	}
	return out
}

// sameSteps is a downgrade's check: every step ended as in the fresh run.
func sameSteps(got, want *v1alpha1.SequentialJob) []string {
	var out []string
	if got.Status.Phase != want.Status.Phase {
		out = append(out, fmt.Sprintf("phase %s, fresh %s", got.Status.Phase, want.Status.Phase))
	}
	phases := func(sj *v1alpha1.SequentialJob) []string {
		var p []string
		for _, s := range append(append([]v1alpha1.StepStatus(nil), sj.Status.Steps...), sj.Status.Finally...) {
			p = append(p, fmt.Sprintf("%s %s %s attempt %d", s.Name, s.JobName, s.Phase, s.Attempt))
		}
		return p
	}
	if d := cmp.Diff(phases(want), phases(got)); d != "" {
		out = append(out, "steps (-fresh +got):\n"+d)
	}
	return out
}
