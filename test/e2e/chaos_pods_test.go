package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/internal/localcluster"
)

// pod keeps one controller replica running the way a kubelet keeps the
// container of a Deployment's pod running (restartPolicy: Always): whenever
// the process exits it starts a new one, after a short back-off. A
// controller that loses its Lease exits on purpose (the apiserver was away
// longer than the renew deadline, a renewal hung), and only a restart
// brings it back; the chaos scenarios need that, as a cluster has it.
type pod struct {
	name       string
	kubeconfig string
	cancel     context.CancelFunc
	done       chan struct{}

	mu         sync.Mutex
	proc       *localcluster.Process
	metricsURL string
	killing    bool
	// exits counts the exits the test did not cause.
	exits int
	// lastExit is how the last of them ended.
	lastExit error
}

// startPods replaces the shared controller by n replicas that authenticate
// with kubeconfig, for the rest of the test; the shared one comes back at
// the end.
func startPods(t *testing.T, n int, kubeconfig string) []*pod {
	t.Helper()
	require.NoError(t, stopController())
	pods := make([]*pod, n)
	for i := range pods {
		ctx, cancel := context.WithCancel(context.Background())
		pods[i] = &pod{name: fmt.Sprintf("replica-%d", i), kubeconfig: kubeconfig, cancel: cancel, done: make(chan struct{})}
		go pods[i].run(ctx)
	}
	t.Cleanup(func() {
		for _, p := range pods {
			p.stop()
		}
		require.NoError(t, startController(context.Background()))
	})
	return pods
}

func (p *pod) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		proc, url, err := startReplica(ctx, p.kubeconfig)
		if err == nil {
			p.mu.Lock()
			p.proc, p.metricsURL, p.killing = proc, url, false
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				_ = proc.Stop(30 * time.Second)
				return
			case <-proc.Done():
			}
			p.mu.Lock()
			if !p.killing {
				p.exits++
				_, p.lastExit = proc.Exited()
			}
			p.mu.Unlock()
		}
		// A kubelet's back-off, shortened: the scenarios are about what
		// happens across the restart, not about waiting for it.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(200+rand.IntN(800)) * time.Millisecond):
		}
	}
}

// kill SIGKILLs the replica's process; run starts the next one.
func (p *pod) kill() error {
	p.mu.Lock()
	proc := p.proc
	p.killing = true
	p.mu.Unlock()
	if proc == nil {
		return fmt.Errorf("%s has not started", p.name)
	}
	return proc.Kill()
}

func (p *pod) stop() {
	p.cancel()
	<-p.done
}

// unexpectedExits are the exits the test did not cause, with the last one's
// error.
func (p *pod) unexpectedExits() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exits, p.lastExit
}

// leads asks the replica's metrics endpoint, with a metrics-reader token,
// whether it holds the Lease: controller-runtime sets
// leader_election_master_status to 1 while it leads. The Lease names its
// holder by host name and a random id, which does not say which of two
// processes on one host it is; the metric does.
func (p *pod) leads(ctx context.Context, token string) (bool, error) {
	p.mu.Lock()
	url, proc := p.metricsURL, p.proc
	p.mu.Unlock()
	if proc == nil {
		return false, nil
	}
	if exited, _ := proc.Exited(); exited {
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }() // read side: nothing is lost
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s metrics: %s", p.name, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return false, err
	}
	if f := families["leader_election_master_status"]; f != nil {
		for _, m := range f.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				return true, nil
			}
		}
	}
	return false, nil
}

// podExits sums the replicas' unexpected exits, for the summary.
func podExits(pods []*pod) (int, error) {
	total := 0
	var last error
	for _, p := range pods {
		n, err := p.unexpectedExits()
		total += n
		if err != nil {
			last = err
		}
	}
	return total, last
}
