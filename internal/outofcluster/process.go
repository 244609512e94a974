package outofcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Process is a running manager.
type Process struct {
	// LogPath is the manager's log file (empty when its output goes to a
	// writer of the caller's).
	LogPath string

	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logFile *os.File
}

// StartProcess starts cmd, named name in errors, with its output to logs
// or, when logs is nil, to the file logPath.
func StartProcess(name string, cmd *exec.Cmd, logs io.Writer, logPath string) (*Process, error) {
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	if logs == nil {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		p.LogPath, p.logFile, logs = logPath, f, f
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Own process group, so a Ctrl-C reaches only the parent, which stops
	// the manager in order; Pdeathsig ends the manager if the parent dies
	// first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if p.logFile != nil {
			_ = p.logFile.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		if p.logFile != nil {
			_ = p.logFile.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Pid is the manager's process id, for its CPU and memory in /proc.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Healthy returns an error once the manager has exited (nil for a nil
// Process: nothing started has exited).
func (p *Process) Healthy() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); see %s", p.name, p.waitErr, p.logHint())
	default:
		return nil
	}
}

func (p *Process) logHint() string {
	if p.LogPath != "" {
		return p.LogPath
	}
	return "the output above"
}

// Stop stops the manager's process group: SIGTERM, SIGKILL after 5s (a
// webhook server may wait up to a minute for the apiserver's idle
// connections). Safe on a nil Process and more than once.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitReady is WaitReady for this manager at s, failing as soon as it
// exits, and naming its log in the error.
func (p *Process) WaitReady(ctx context.Context, s *Serving, timeout time.Duration) error {
	if err := WaitReady(ctx, s.HealthAddr, s.WebhookAddr(), s.Certs.CACert, timeout, p.Healthy); err != nil {
		return fmt.Errorf("waiting for %s to be ready (log: %s): %w", p.name, p.logHint(), err)
	}
	return nil
}

// WaitReady waits, up to timeout, for http://healthAddr/readyz to answer
// 200, then for the webhook server on webhookAddr to complete a TLS
// handshake with caPEM for 127.0.0.1, which is what the apiserver does:
// /readyz may answer before the webhook server serves the certificate the
// apiserver checks. It fails at once when healthy does.
func WaitReady(ctx context.Context, healthAddr, webhookAddr string, caPEM []byte, timeout time.Duration, healthy func() error) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	httpc := &http.Client{Timeout: time.Second}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := healthy(); err != nil {
			return false, err
		}
		resp, err := httpc.Get("http://" + healthAddr + "/readyz")
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
}
