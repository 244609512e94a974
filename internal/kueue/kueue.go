// Package kueue runs a real Kueue (bin/kueue, built by `make` from the Go
// module sigs.k8s.io/kueue pinned in tools/kueue/go.mod) out of cluster,
// next to a local cluster: for the tests that queue step Jobs through it,
// and for `make run KUEUE=1`.
//
// Kueue runs as it does in a real install, webhooks included:
//
//   - its CRDs, webhook configurations and conversion webhooks come from the
//     Kueue module's own manifests (config/components), with the webhook
//     Service replaced by https://127.0.0.1:<port>;
//   - its internal certificate management stays on; we seed its Secret with
//     a CA and a serving certificate valid for both the in-cluster service
//     name and 127.0.0.1, which its rotator keeps (see newServing);
//   - leader election off, metrics off, the visibility server off, health
//     probes and webhooks on free local ports.
package kueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/outofcluster"
)

// Options configure Start.
type Options struct {
	// BinDir holds kueue (`make $(BIN)/kueue`). Required.
	BinDir string
	// Dir receives Kueue's configuration, certificates and, when Logs is
	// nil, kueue.log. Required; created if missing.
	Dir string
	// ModuleDir is the Kueue module's source, for its CRDs and webhook
	// manifests. Default: ModuleDir(the repository's tools/kueue), found
	// by walking up from the working directory.
	ModuleDir string
	// Logs receives Kueue's output. Nil writes Dir/kueue.log.
	Logs io.Writer
	// Frameworks are Kueue's integrations. Default: batch/job.
	Frameworks []string
	// ManageJobsWithoutQueueName makes Kueue suspend and queue Jobs that
	// carry no queue name too. Default false, as in Kueue's default.
	ManageJobsWithoutQueueName bool
	// FeatureGates are added to Kueue's --feature-gates (after
	// VisibilityOnDemand=false), e.g. "MultiKueue=true".
	FeatureGates string
	// ExtraConfig is YAML appended to Kueue's Configuration, e.g. a
	// multiKueue: block.
	ExtraConfig string
	// ReadyTimeout bounds the wait for Kueue to serve; default 2 minutes
	// (Kueue starts two managers: the certificate bootstrap, then its own).
	ReadyTimeout time.Duration
}

// Kueue is a running Kueue controller manager.
type Kueue struct {
	// LogPath is Kueue's log file (empty when Options.Logs is set).
	LogPath string
	// Client is an unstructured-capable client of the cluster.
	Client client.Client

	opts           Options
	moduleDir      string
	serving        *outofcluster.Serving
	webhookConfigs []*unstructured.Unstructured
	proc           *outofcluster.Process

	stopOnce sync.Once
}

// Start installs Kueue into the cluster that kubeconfig and cfg (the same
// credentials; Kueue runs with the file) reach, starts bin/kueue, and
// returns once Kueue's webhooks answer through the apiserver. On error,
// whatever was started is stopped again.
func Start(ctx context.Context, kubeconfig string, cfg *rest.Config, opts Options) (k *Kueue, err error) {
	bin, moduleDir, err := opts.prepare(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkServerVersion(cfg); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	k = &Kueue{opts: opts, moduleDir: moduleDir, Client: c}
	defer func() {
		if err != nil {
			_ = k.Stop()
			k = nil
		}
	}()

	if k.serving, err = newServing(opts.Dir); err != nil {
		return k, err
	}
	if err := k.install(ctx); err != nil {
		return k, err
	}
	configPath := filepath.Join(opts.Dir, "kueue-config.yaml")
	if err := os.WriteFile(configPath, []byte(k.config()), 0o644); err != nil {
		return k, err
	}
	if err := k.startProcess(bin, kubeconfig, configPath); err != nil {
		return k, err
	}
	// /readyz alone also answers during the certificate bootstrap, before
	// Kueue's own manager runs: WaitReady waits for the TLS handshake too.
	return k, k.proc.WaitReady(ctx, k.serving, opts.ReadyTimeout)
}

// prepare checks and defaults opts, creates opts.Dir, and finds the
// kueue binary and Kueue's module directory.
func (opts *Options) prepare(ctx context.Context) (bin, moduleDir string, err error) {
	if opts.BinDir == "" || opts.Dir == "" {
		return "", "", errors.New("kueuetest: BinDir and Dir are required")
	}
	if bin, err = outofcluster.Binary(opts.BinDir, "kueue"); err != nil {
		return "", "", err
	}
	if len(opts.Frameworks) == 0 {
		opts.Frameworks = []string{"batch/job"}
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return "", "", err
	}
	moduleDir = opts.ModuleDir
	if moduleDir == "" {
		if moduleDir, err = outofcluster.FindModuleDir(ctx, module); err != nil {
			return "", "", err
		}
	}
	return bin, moduleDir, nil
}

// config is Kueue's Configuration (apis/config/v1beta2).
func (k *Kueue) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: %s
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
  enable: true
  webhookServiceName: %s
  webhookSecretName: %s
manageJobsWithoutQueueName: %t
clientConnection:
  qps: 50
  burst: 100
integrations:
  frameworks:
`, Namespace, k.serving.HealthAddr, k.serving.WebhookPort, k.serving.CertDir, webhookServiceName, webhookSecretName, k.opts.ManageJobsWithoutQueueName)
	for _, f := range k.opts.Frameworks {
		fmt.Fprintf(&b, "  - %q\n", f)
	}
	b.WriteString(k.opts.ExtraConfig)
	return b.String()
}

func (k *Kueue) startProcess(bin, kubeconfig, configPath string) error {
	// VisibilityOnDemand (on by default) starts an aggregated API server on
	// a fixed port (8082): two Kueues on one machine would collide, and
	// nothing here registers its APIService.
	gates := "VisibilityOnDemand=false"
	if k.opts.FeatureGates != "" {
		gates += "," + k.opts.FeatureGates
	}
	cmd := exec.Command(bin, "--config="+configPath, "--feature-gates="+gates, "--zap-log-level=2")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p, err := outofcluster.StartProcess("kueue", cmd, k.opts.Logs, filepath.Join(k.opts.Dir, "kueue.log"))
	if err != nil {
		return err
	}
	k.proc, k.LogPath = p, p.LogPath
	return nil
}

// Healthy returns an error once Kueue has exited.
func (k *Kueue) Healthy() error { return k.proc.Healthy() }

// Stop removes Kueue's webhook configurations (so the cluster can still
// create Jobs without it), then stops Kueue: SIGTERM, SIGKILL after 5s (its
// webhook server may wait up to a minute for the apiserver's idle
// connections). Kueue's CRDs and objects stay. Safe to call more than once.
func (k *Kueue) Stop() error {
	var err error
	k.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = k.uninstallWebhooks(ctx)
		k.proc.Stop()
	})
	return err
}

// checkServerVersion fails early, and says why, where Kueue would exit at
// start: it parses the apiserver's version as semver, and a kube-apiserver
// built without the version ldflags reports "v0.0.0-master+$Format:%H$".
func checkServerVersion(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return err
	}
	if _, err := version.ParseSemantic(info.String()); err != nil {
		return fmt.Errorf("kube-apiserver reports version %q, which Kueue cannot parse (%v): relink the Kubernetes binaries with their version (rm bin/kube-apiserver; make bin)", info.String(), err)
	}
	return nil
}

// module is the Go module bin/kueue is built from, pinned in tools/kueue.
const module = "sigs.k8s.io/kueue"

// ModuleDir returns the directory of the Kueue module that toolsDir's
// go.mod pins (tools/kueue): the source bin/kueue is built from, so the
// CRDs and webhooks always match the binary. The go command downloads it
// into the module cache if needed (`make $(BIN)/kueue` has done so).
func ModuleDir(ctx context.Context, toolsDir string) (string, error) {
	return outofcluster.ModuleDir(ctx, toolsDir, module)
}
