//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/test/testenv"
)

// TestLocalRunCtrlC runs `sequentialjob local run` as `make run` does, waits
// for the example to succeed, and presses Ctrl-C (SIGINT to the terminal's
// process group). The user sees the two lines that say what happens, and
// nothing else: no controller-runtime warning, no stack trace.
func TestLocalRunCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local cluster")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"} {
		src, err := filepath.Abs(filepath.Join(testenv.BinDir(), name))
		require.NoError(t, err)
		require.FileExists(t, src, "run `make bin`")
		require.NoError(t, os.Symlink(src, filepath.Join(bin, name)))
	}
	// Both binaries from this checkout, so that the test needs no `make build`.
	for _, pkg := range []string{"sequentialjob", "sequentialjob-controller"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, pkg), "./cmd/"+pkg)
		build.Dir = testenv.Root()
		out, err := build.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}

	cmd := exec.Command(filepath.Join(bin, "sequentialjob"), "local", "run", "--bin", bin, "--dir", filepath.Join(dir, "local"),
		"--crd", testenv.CRDPath(), "--example", filepath.Join(testenv.Root(), "examples", "seed-example.yaml"))
	// Its own process group, as a shell gives a foreground job: Ctrl-C
	// reaches that whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &lockedBuffer{}
	pipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = out
	require.NoError(t, cmd.Start())
	started := time.Now()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	succeeded := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		scanner := bufio.NewScanner(pipe)
		once := sync.Once{}
		for scanner.Scan() {
			line := scanner.Text()
			out.WriteString(line + "\n")
			if strings.Contains(line, "example-job-sequence  Succeeded") {
				once.Do(func() { close(succeeded) })
			}
		}
	}()
	select {
	case <-succeeded:
	case <-copied:
		t.Fatalf("local run ended before the example succeeded:\n%s", out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("the example did not succeed within 3 minutes:\n%s", out)
	}

	// controller-runtime warns of a missing logger only once the process
	// is 30 s old: press Ctrl-C after that, as a user watching would.
	time.Sleep(time.Until(started.Add(31 * time.Second)))
	mark := out.Len()
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	<-copied
	require.NoError(t, cmd.Wait(), "exit status after Ctrl-C:\n%s", out)
	after := out.String()[mark:]
	want := "\nStopping every process and removing the data in " + filepath.Join(dir, "local") + "...\nStopped.\n"
	require.Equal(t, want, after, "what Ctrl-C prints")
	require.NoDirExists(t, filepath.Join(dir, "local"), "Ctrl-C removes the data")
}

// lockedBuffer collects stdout and stderr, written from two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) WriteString(s string) { _, _ = l.Write([]byte(s)) }

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
