// Package jobset runs a real JobSet controller manager (bin/jobset, built by
// `make` from the Go module sigs.k8s.io/jobset pinned in
// tools/jobset/go.mod) out of cluster, next to a local cluster: for
// `make bench-compare`, which measures it beside the SequentialJob
// controller on the same cluster.
//
// JobSet runs as it does in a real install, webhooks included, the way
// internal/kueue runs Kueue:
//
//   - its CRD, webhook configurations and RBAC come from the JobSet module's
//     own manifests (config/components), with the webhook Service replaced
//     by https://127.0.0.1:<port>;
//   - its internal certificate management is off, as in JobSet's
//     cert-manager install: we make the CA and the serving certificate
//     (valid for 127.0.0.1) and put the CA into the webhook configurations
//     (JobSet's rotator writes its certificates to a fixed /tmp directory
//     and names them for the in-cluster Service only);
//   - leader election off, metrics off, health probes and webhooks on free
//     local ports, and everything else JobSet's defaults.
//
// It runs with the kubeconfig it is given: with Options.User set, Start
// binds JobSet's shipped ClusterRole to that user, so that it runs as it
// would in a cluster, as its own identity with its own RBAC.
package jobset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/outofcluster"
)

// Options configure Start.
type Options struct {
	// BinDir holds jobset (`make $(BIN)/jobset`). Required.
	BinDir string
	// Dir receives JobSet's configuration, certificates and, when Logs is
	// nil, jobset.log. Required; created if missing.
	Dir string
	// ModuleDir is the JobSet module's source, for its CRD, webhook and
	// RBAC manifests. Default: ModuleDir(the repository's tools/jobset),
	// found by walking up from the working directory.
	ModuleDir string
	// User, when set, is the user JobSet's kubeconfig authenticates as:
	// Start binds JobSet's ClusterRole (config/components/rbac/role.yaml)
	// to it.
	User string
	// Logs receives JobSet's output. Nil writes Dir/jobset.log.
	Logs io.Writer
	// Args are added to JobSet's command line.
	Args []string
	// ReadyTimeout bounds the wait for JobSet to serve; default 2 minutes.
	ReadyTimeout time.Duration
}

// JobSet is a running JobSet controller manager.
type JobSet struct {
	// LogPath is JobSet's log file (empty when Options.Logs is set).
	LogPath string

	opts   Options
	client client.Client // cfg's: installs
	// userClient is kubeconfig's, JobSet's own credentials.
	userClient     client.Client
	moduleDir      string
	serving        *outofcluster.Serving
	webhookConfigs []*unstructured.Unstructured
	proc           *outofcluster.Process

	stopOnce sync.Once
}

// Start installs JobSet into the cluster that cfg (an admin) reaches,
// starts bin/jobset with kubeconfig, and returns once JobSet's webhooks
// answer. On error, whatever was started is stopped again.
func Start(ctx context.Context, kubeconfig string, cfg *rest.Config, opts Options) (j *JobSet, err error) {
	bin, opts, err := checkOptions(opts)
	if err != nil {
		return nil, err
	}
	if j, err = newJobSet(ctx, kubeconfig, cfg, opts); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = j.Stop()
			j = nil
		}
	}()

	// With JobSet's internal certificate management off nothing rotates
	// these certificates: they outlive any run.
	if j.serving, err = outofcluster.NewServing(opts.Dir, "jobset"); err != nil {
		return j, err
	}
	if err := j.install(ctx); err != nil {
		return j, err
	}
	configPath := filepath.Join(opts.Dir, "jobset-config.yaml")
	if err := os.WriteFile(configPath, []byte(j.config()), 0o644); err != nil {
		return j, err
	}
	if err := j.startProcess(bin, kubeconfig, configPath); err != nil {
		return j, err
	}
	return j, j.proc.WaitReady(ctx, j.serving, opts.ReadyTimeout)
}

// checkOptions fills in the defaults and returns the path of bin/jobset.
func checkOptions(opts Options) (string, Options, error) {
	if opts.BinDir == "" || opts.Dir == "" {
		return "", opts, errors.New("jobset: BinDir and Dir are required")
	}
	bin, err := outofcluster.Binary(opts.BinDir, "jobset")
	if err != nil {
		return "", opts, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	return bin, opts, os.MkdirAll(opts.Dir, 0o755)
}

// newJobSet finds JobSet's module (for its CRDs) and builds the admin
// client and the client of JobSet's own user.
func newJobSet(ctx context.Context, kubeconfig string, cfg *rest.Config, opts Options) (*JobSet, error) {
	moduleDir := opts.ModuleDir
	if moduleDir == "" {
		var err error
		if moduleDir, err = outofcluster.FindModuleDir(ctx, module); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	userCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	uc, err := client.New(userCfg, client.Options{})
	if err != nil {
		return nil, err
	}
	return &JobSet{opts: opts, client: c, userClient: uc, moduleDir: moduleDir}, nil
}

// config is JobSet's Configuration (api/config/v1alpha1).
func (j *JobSet) config() string {
	return fmt.Sprintf(`apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
health:
  healthProbeBindAddress: %s
# "0" turns controller-runtime's metrics server off: nothing scrapes it here.
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: %d
  certDir: %s
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
`, j.serving.HealthAddr, j.serving.WebhookPort, j.serving.CertDir)
}

func (j *JobSet) startProcess(bin, kubeconfig, configPath string) error {
	cmd := exec.Command(bin, append([]string{"--config=" + configPath}, j.opts.Args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p, err := outofcluster.StartProcess("jobset", cmd, j.opts.Logs, filepath.Join(j.opts.Dir, "jobset.log"))
	if err != nil {
		return err
	}
	j.proc, j.LogPath = p, p.LogPath
	return nil
}

// Pid is the manager's process id, for its CPU and memory in /proc.
func (j *JobSet) Pid() int { return j.proc.Pid() }

// Healthy returns an error once JobSet has exited.
func (j *JobSet) Healthy() error { return j.proc.Healthy() }

// Stop removes JobSet's webhook configurations (they fail closed, and one
// of them is on every Pod of the cluster), then stops JobSet: SIGTERM,
// SIGKILL after 5s. Its CRD and objects stay. Safe to call more than once.
func (j *JobSet) Stop() error {
	var err error
	j.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = j.uninstallWebhooks(ctx)
		j.proc.Stop()
	})
	return err
}

// module is the Go module bin/jobset is built from, pinned in tools/jobset.
const module = "sigs.k8s.io/jobset"

// ModuleDir returns the directory of the JobSet module that toolsDir's
// go.mod pins (tools/jobset): the source bin/jobset is built from, so the
// CRD and webhooks always match the binary.
func ModuleDir(ctx context.Context, toolsDir string) (string, error) {
	return outofcluster.ModuleDir(ctx, toolsDir, module)
}
