//go:build linux

package localcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a child process the cluster started: kube-controller-manager,
// kube-scheduler, kwok or the SequentialJob controller.
//
// Each runs in its own process group, so a Ctrl-C in the terminal reaches
// only the parent, which then stops the children in order, and so a stop
// also reaches anything the child spawned. Pdeathsig kills the child if the
// parent dies without stopping it (kill -9, a crashed test binary).
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  io.Closer
}

// startProcess starts path with args and sends its output to logs (or, when
// logs is nil, to a file named after the process in logDir).
func startProcess(name, logDir string, logs io.Writer, path string, args ...string) (*Process, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w (run `make bin build`)", name, err)
	}
	p := &Process{Name: name, done: make(chan struct{})}
	cmd := exec.Command(path, args...)
	if logs == nil {
		f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		logs = f
		p.log = f
	} else {
		logs = &prefixWriter{prefix: "[" + name + "] ", w: logs}
	}
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		p.closeLog()
		close(p.done)
	}()
	return p, nil
}

func (p *Process) closeLog() {
	if p.log != nil {
		_ = p.log.Close()
	}
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop asks the process group to terminate (SIGTERM) and kills it when it
// has not exited after grace.
func (p *Process) Stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	return p.Kill()
}

// Kill kills the process group at once (SIGKILL), the way a crash or an OOM
// kill would end it, and waits for it to be gone.
func (p *Process) Kill() error {
	if p == nil {
		return nil
	}
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
	}
}

func (p *Process) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	// The negative pid addresses the whole process group.
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.cmd.Process.Signal(sig)
	}
}

// prefixWriter prefixes every line with the component's name, so the logs of
// all components can share one writer.
type prefixWriter struct {
	prefix  string
	w       io.Writer
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	out := make([]byte, 0, len(b)+len(pw.prefix))
	for _, c := range b {
		if !pw.midLine {
			out = append(out, pw.prefix...)
			pw.midLine = true
		}
		out = append(out, c)
		if c == '\n' {
			pw.midLine = false
		}
	}
	if _, err := pw.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
