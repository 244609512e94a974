package bench

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"example.com/sequentialjob/test/testenv"
)

// controllerProcess is the controller binary (bin/sequentialjob-controller,
// `make build`) running as its own process, so that its CPU and memory are
// its own.
type controllerProcess struct {
	cmd *exec.Cmd
	log string
}

var (
	controllerBinary = flag.String("controller", "", "the controller binary to measure (default: built from this checkout), to compare builds")
	controllerArgs   = flag.String("controller.args", "", "more flags for the controller, space-separated (for example --kube-api-qps=500)")
)

// controllerPath is -controller, or the controller built from this
// checkout, so that a change is measured without a separate `make build`.
func controllerPath(t testing.TB) string {
	t.Helper()
	if *controllerBinary != "" {
		return *controllerBinary
	}
	bin := filepath.Join(t.TempDir(), "sequentialjob-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sequentialjob-controller")
	build.Dir = testenv.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building the controller: %s", out)
	return bin
}

// startController runs the controller against cfg until the test ends and
// returns once its /readyz answers.
func startController(t testing.TB, cfg *rest.Config, args ...string) *controllerProcess {
	t.Helper()
	bin := controllerPath(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, writeKubeconfig(kubeconfig, cfg))
	probe := freeAddr(t)
	p := &controllerProcess{log: filepath.Join(dir, "controller.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(bin, append([]string{"--kubeconfig=" + kubeconfig, "--metrics-bind-address=0",
		"--health-probe-bind-address=" + probe, "--leader-elect=false"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// The controller dies with the test binary, however that ends.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
		_ = logFile.Close()
		if keep := os.Getenv("BENCH_KEEP_LOG"); keep != "" {
			_ = os.Rename(p.log, keep)
		}
		if t.Failed() {
			if data, err := os.ReadFile(p.log); err == nil && len(data) > 0 {
				t.Logf("controller log (last 4 KB):\n%s", data[max(0, len(data)-4096):])
			}
		}
	})
	client := &http.Client{Timeout: time.Second}
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("the controller exited; see %s", p.log)
		default:
		}
		resp, err := client.Get("http://" + probe + "/readyz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	require.NoError(t, err)
	return p
}

func (p *controllerProcess) stats(t testing.TB) procStats {
	t.Helper()
	s, err := readProc(p.cmd.Process.Pid)
	require.NoError(t, err)
	return s
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	return clientcmd.WriteToFile(*kc, path)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }() // only a probe for a free port
	return l.Addr().String()
}
