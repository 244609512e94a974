package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
)

// One cluster and one controller serve every test of this binary; each test
// works in its own namespace.
var (
	cluster *localcluster.Cluster
	k8s     client.Client
	scheme  = k8sruntime.NewScheme()

	controllerMu   sync.Mutex
	controller     *localcluster.Process
	controllerPath string
	// controllerKubeconfig holds a token of the controller's own
	// ServiceAccount, bound by the shipped RBAC only (installShipped).
	controllerKubeconfig string
	// metricsURL is the controller's Prometheus endpoint, served as in a
	// cluster: HTTPS, each scrape checked by the apiserver (the default
	// flags).
	metricsURL string
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

// crdPath is the CRD as users install it. SEQUENTIALJOB_E2E_CRD points the
// tests at another file while working on the CRD.
func crdPath() string {
	if p := os.Getenv("SEQUENTIALJOB_E2E_CRD"); p != "" {
		return p
	}
	return filepath.Join(repoRoot(), "config", "crd", "sequentialjobs.yaml")
}

// cronCRDPath is the SequentialCronJob CRD as users install it.
func cronCRDPath() string {
	return filepath.Join(repoRoot(), "config", "crd", "sequentialcronjobs.yaml")
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode (it starts a local cluster)")
		return 0
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	dataDir, err := os.MkdirTemp("", "sequentialjob-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The controller under test is built from this checkout, so a change to
	// the reconciler is tested without a separate `make build`.
	controllerPath = filepath.Join(dataDir, "sequentialjob-controller")
	build := exec.CommandContext(ctx, "go", "build", "-o", controllerPath, "./cmd/sequentialjob-controller")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the controller: %v\n%s", err, out)
		return 1
	}

	start := time.Now()
	cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinDir:  binDir(),
		DataDir: filepath.Join(dataDir, "cluster"),
		CRDPath: crdPath(),
		// Every request of the controller, to prove its role is the least
		// it needs (checkLeastPrivilege).
		AuditUsers: []string{controllerUser},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster (make bin builds its binaries): %v\n", err)
		return 1
	}
	fmt.Printf("e2e: local cluster up in %s (data in %s)\n", time.Since(start).Round(100*time.Millisecond), dataDir)
	// Before the controller starts: it runs the cron controller only when
	// the CRD is served.
	if err := cluster.InstallCRD(ctx, cronCRDPath()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		cluster.Stop()
		return 1
	}

	// Ctrl-C still stops every process and keeps the logs.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		cluster.SetKeepData(true)
		cluster.Stop()
		fmt.Fprintf(os.Stderr, "e2e: interrupted; logs in %s\n", cluster.LogDir())
		os.Exit(130)
	}()

	code := 1
	defer func() {
		signal.Stop(signals)
		if code != 0 {
			cluster.SetKeepData(true)
			fmt.Fprintf(os.Stderr, "e2e: failed; component logs are in %s\n", cluster.LogDir())
		}
		cluster.Stop()
		if code == 0 {
			_ = os.RemoveAll(dataDir)
		}
	}()

	if k8s, err = client.New(cluster.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installShipped(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startController(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code = m.Run()
	printChaosSummary(os.Stdout)
	if code == 0 && wholeSuite() {
		if err := checkLeastPrivilege(cluster.AuditLog()); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: least privilege: %v\n", err)
			code = 1
		} else {
			fmt.Println("e2e: least privilege: every rule of the shipped roles was used, and no request was denied")
		}
	}
	return code
}

func startController(ctx context.Context) error {
	controllerMu.Lock()
	defer controllerMu.Unlock()
	p, url, err := startReplica(ctx, controllerKubeconfig)
	if err != nil {
		return err
	}
	controller, metricsURL = p, url
	return nil
}

// startReplica starts one controller process that authenticates with
// kubeconfig, and returns it with its metrics URL. The chaos tests start
// replicas of their own (a second one, or one behind a fault proxy).
func startReplica(ctx context.Context, kubeconfig string) (*localcluster.Process, string, error) {
	addr, err := localcluster.FreeLocalAddr()
	if err != nil {
		return nil, "", err
	}
	// As the shipped Deployment runs it: its own ServiceAccount, leader
	// election, secure metrics. A restart after a kill waits for the dead
	// leader's Lease to expire (15 s), as a new pod would.
	p, err := cluster.StartController(ctx, localcluster.ControllerOptions{Path: controllerPath,
		Args: []string{"--kubeconfig=" + kubeconfig, "--metrics-bind-address=" + addr,
			"--leader-elect", "--leader-election-namespace=" + systemNamespace}})
	if err != nil {
		return nil, "", err
	}
	return p, "https://" + addr + "/metrics", nil
}

// stopController stops the shared controller gracefully: it releases its
// Lease, so the next replica leads at once.
func stopController() error {
	controllerMu.Lock()
	defer controllerMu.Unlock()
	return controller.Stop(30 * time.Second)
}

func killController() error {
	controllerMu.Lock()
	defer controllerMu.Unlock()
	return controller.Kill()
}
