package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

var chaosAPIRestarts = flag.Int("chaos.apiserver-restarts", 2, "TestChaosAPIServerRestart: restarts of kube-apiserver")

// TestChaosAPIServerRestart restarts kube-apiserver mid-run, etcd keeping
// its data: every watch breaks, every request fails for a few seconds, and
// the controller, if it cannot renew its Lease in time, exits and is
// restarted (pod). Nothing may be lost or doubled.
func TestChaosAPIServerRestart(t *testing.T) {
	longChaos(t)
	// The test's own Job watch (jobRecorder) retries through the restart
	// and logs every failed attempt through klog: one line a second.
	klog.SetLogger(logr.Discard())
	t.Cleanup(klog.ClearLogger)
	pods := startPods(t, 1, controllerKubeconfig)
	// A new run starts after each restart, so that the next one finds
	// runs going.
	w := newChaosWorkload(t, "restart", *chaosRuns-*chaosAPIRestarts)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	restarts := 0
	var downtime time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if err := w.rest(); err != nil {
				t.Errorf("%v", err)
			}
		}()
		for restarts < *chaosAPIRestarts {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(1000+rand.IntN(3000)) * time.Millisecond):
			}
			// Mid-run means runs are still going; a restart after the
			// last one ended proves nothing.
			if w.unfinished(ctx) == 0 {
				return
			}
			start := time.Now()
			killed, err := cluster.RestartAPIServer()
			if err != nil {
				t.Errorf("restarting kube-apiserver: %v", err)
				return
			}
			restarts++
			downtime += time.Since(start)
			how := "stopped"
			if killed {
				how = "SIGKILLed after 30s of graceful shutdown"
			}
			fmt.Printf("chaos apiserver restart %d: %s, away %s\n", restarts, how, time.Since(start).Round(100*time.Millisecond))
			if err := w.next(); err != nil {
				t.Errorf("%v", err)
				return
			}
		}
	}()
	lost := w.wait(*chaosTimeout)
	stop()
	wg.Wait()
	exits, _ := podExits(pods)
	w.check(t, "apiserver restarted", fmt.Sprintf("%d restarts (%s down), %d controller exits", restarts, downtime.Round(time.Second), exits), lost)
	if restarts < *chaosAPIRestarts {
		t.Errorf("only %d of %d apiserver restarts happened while runs were going", restarts, *chaosAPIRestarts)
	}
}
