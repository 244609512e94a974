package kueuetest_test

// The only file that imports the local-cluster engine, so that a move of
// it (it moved from test/ to internal/) is a one-line change here.

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"example.com/sequentialjob/internal/kueue"
	"example.com/sequentialjob/internal/localcluster"
)

// How long kwok runs a pod, and its exit code (see localcluster).
const (
	annotationDuration = localcluster.AnnotationDuration
	annotationExitCode = localcluster.AnnotationExitCode
)

// The tests use controller-runtime's client, which otherwise prints a
// warning with a stack trace after 30s that no logger was set.
func init() { ctrllog.SetLogger(logr.Discard()) }

// testCluster is a running local cluster with a Kueue next to it.
type testCluster struct {
	Kubeconfig string
	Config     *rest.Config
	Clientset  kubernetes.Interface
	Kueue      *kueue.Kueue
	local      *localcluster.Cluster
}

// runSequentialJobs installs the SequentialJob CRD, as users do, and starts
// the controller (bin/sequentialjob-controller) against the cluster.
func (c *testCluster) runSequentialJobs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.local.InstallCRD(ctx, filepath.Join(repoRoot(), "config", "crd", "sequentialjobs.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.local.StartController(ctx, localcluster.ControllerOptions{}); err != nil {
		t.Fatal(err)
	}
}

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

// startCluster starts a local cluster and a Kueue on it, stopped at the
// test's end; their logs are kept (and named) when the test fails.
func startCluster(t *testing.T, name string, kopts kueue.Options) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a local cluster and Kueue")
	}
	// `make test` builds bin/kueue; a bare `go test` may not have.
	if _, err := os.Stat(filepath.Join(binDir(), "kueue")); err != nil {
		t.Fatalf("bin/kueue missing: run `make %s/kueue` (make test builds it)", binDir())
	}
	dir, err := os.MkdirTemp("", "kueuetest-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir(), DataDir: filepath.Join(dir, "cluster")})
	if err != nil {
		t.Fatalf("starting local cluster %s: %v", name, err)
	}
	t.Logf("%s: local cluster up in %s", name, time.Since(start).Round(100*time.Millisecond))
	kopts.BinDir = binDir()
	kopts.Dir = filepath.Join(dir, "kueue")
	start = time.Now()
	k, err := kueue.Start(ctx, c.Kubeconfig, c.Config, kopts)
	if err != nil {
		c.SetKeepData(true)
		c.Stop()
		t.Fatalf("starting kueue on %s: %v (cluster logs in %s)", name, err, c.LogDir())
	}
	t.Logf("%s: kueue ready in %s", name, time.Since(start).Round(100*time.Millisecond))
	t.Cleanup(func() {
		stopping := time.Now()
		if err := k.Stop(); err != nil {
			t.Errorf("stopping kueue on %s: %v", name, err)
		}
		if t.Failed() {
			c.SetKeepData(true)
			t.Logf("%s: logs kept: kueue %s, cluster %s", name, k.LogPath, c.LogDir())
		}
		c.Stop()
		t.Logf("%s: kueue and cluster stopped in %s", name, time.Since(stopping).Round(100*time.Millisecond))
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return &testCluster{Kubeconfig: c.Kubeconfig, Config: c.Config, Clientset: c.Clientset, Kueue: k, local: c}
}
