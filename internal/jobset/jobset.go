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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	webhookPort    int
	healthAddr     string
	webhookConfigs []*unstructured.Unstructured

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logFile *os.File

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

	if j.webhookPort, err = freePort(); err != nil {
		return j, err
	}
	healthPort, err := freePort()
	if err != nil {
		return j, err
	}
	j.healthAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(healthPort))

	certs, err := newServingCerts()
	if err != nil {
		return j, err
	}
	certDir := filepath.Join(opts.Dir, "certs")
	if err := certs.writeTo(certDir); err != nil {
		return j, err
	}
	if err := j.install(ctx, certs.caCert); err != nil {
		return j, err
	}
	configPath := filepath.Join(opts.Dir, "jobset-config.yaml")
	if err := os.WriteFile(configPath, []byte(j.config(certDir)), 0o644); err != nil {
		return j, err
	}
	if err := j.startProcess(bin, kubeconfig, configPath); err != nil {
		return j, err
	}
	return j, j.waitReady(ctx, certs.caCert)
}

// checkOptions fills in the defaults and returns the path of bin/jobset.
func checkOptions(opts Options) (string, Options, error) {
	if opts.BinDir == "" || opts.Dir == "" {
		return "", opts, errors.New("jobset: BinDir and Dir are required")
	}
	bin := filepath.Join(opts.BinDir, "jobset")
	if _, err := os.Stat(bin); err != nil {
		return "", opts, fmt.Errorf("%s: %w (run `make %s`)", bin, err, bin)
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
		tools, err := findToolsDir()
		if err != nil {
			return nil, err
		}
		if moduleDir, err = ModuleDir(ctx, tools); err != nil {
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
	return &JobSet{opts: opts, client: c, userClient: uc, moduleDir: moduleDir, done: make(chan struct{})}, nil
}

// config is JobSet's Configuration (api/config/v1alpha1).
func (j *JobSet) config(certDir string) string {
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
`, j.healthAddr, j.webhookPort, certDir)
}

func (j *JobSet) startProcess(bin, kubeconfig, configPath string) error {
	cmd := exec.Command(bin, append([]string{"--config=" + configPath}, j.opts.Args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	logs := j.opts.Logs
	if logs == nil {
		j.LogPath = filepath.Join(j.opts.Dir, "jobset.log")
		f, err := os.OpenFile(j.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		j.logFile, logs = f, f
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Own process group, so a Ctrl-C reaches only the parent, which stops
	// JobSet in order; Pdeathsig ends JobSet if the parent dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting jobset: %w", err)
	}
	j.cmd = cmd
	go func() {
		j.waitErr = cmd.Wait()
		if j.logFile != nil {
			_ = j.logFile.Close()
		}
		close(j.done)
	}()
	return nil
}

// waitReady waits for JobSet's /readyz (its webhook server started), then
// for the webhook server's TLS handshake with our CA, which is what the
// apiserver does.
func (j *JobSet) waitReady(ctx context.Context, caCert []byte) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caCert)
	httpc := &http.Client{Timeout: time.Second}
	webhookAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(j.webhookPort))
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, j.opts.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		if err := j.Healthy(); err != nil {
			return false, err
		}
		resp, err := httpc.Get("http://" + j.healthAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, nil
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", webhookAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			return false, nil
		}
		_ = conn.Close()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for jobset to be ready (log: %s): %w", j.logHint(), err)
	}
	return nil
}

// Pid is the manager's process id, for its CPU and memory in /proc.
func (j *JobSet) Pid() int { return j.cmd.Process.Pid }

// Healthy returns an error once JobSet has exited.
func (j *JobSet) Healthy() error {
	select {
	case <-j.done:
		return fmt.Errorf("jobset exited (%v); see %s", j.waitErr, j.logHint())
	default:
		return nil
	}
}

func (j *JobSet) logHint() string {
	if j.LogPath != "" {
		return j.LogPath
	}
	return "the output above"
}

// Stop removes JobSet's webhook configurations (they fail closed, and one
// of them is on every Pod of the cluster), then stops JobSet: SIGTERM,
// SIGKILL after 5s. Its CRD and objects stay. Safe to call more than once.
func (j *JobSet) Stop() error {
	var err error
	j.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = j.uninstallWebhooks(ctx)
		if j.cmd == nil {
			return
		}
		_ = syscall.Kill(-j.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-j.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL)
			<-j.done
		}
	})
	return err
}

// ModuleDir returns the directory of the JobSet module that toolsDir's
// go.mod pins (tools/jobset): the source bin/jobset is built from, so the
// CRD and webhooks always match the binary.
func ModuleDir(ctx context.Context, toolsDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/jobset")
	cmd.Dir = toolsDir
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("go list -m sigs.k8s.io/jobset in %s: %w\n%s", toolsDir, err, stderr)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m sigs.k8s.io/jobset in %s: module not downloaded (run `make bin/jobset`)", toolsDir)
	}
	return dir, nil
}

// findToolsDir walks up from the working directory to tools/jobset.
func findToolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, "tools", "jobset")
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("jobset: tools/jobset/go.mod not found above the working directory; set Options.ModuleDir")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}
