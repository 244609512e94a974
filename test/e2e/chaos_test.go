package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The chaos scenarios. make test runs a short TestChaosControllerKilled;
// make chaos runs every scenario with 30 runs of 5 steps (-chaos.all) and
// prints a summary table. docs/reliability.md has the figures.
var (
	chaosAll      = flag.Bool("chaos.all", false, "run every chaos scenario, not only TestChaosControllerKilled (make chaos)")
	chaosRuns     = flag.Int("chaos.runs", 8, "SequentialJobs per chaos scenario (make chaos: 30)")
	chaosSteps    = flag.Int("chaos.steps", 5, "steps per SequentialJob")
	chaosDuration = flag.String("chaos.duration", "1s", "how long each step's pod runs (kwok)")
	chaosTimeout  = flag.Duration("chaos.timeout", 15*time.Minute, "how long a scenario's runs may take to end before the rest count as lost")
	// 3 kills, each followed by a Lease expiry, keep make test's run near
	// a minute.
	chaosKills = flag.Int("chaos.kills", 3, "TestChaosControllerKilled: SIGKILLs of the controller (make chaos: 20)")
)

// longChaos skips the scenarios that only make chaos runs: each takes
// minutes, and make test keeps the short SIGKILL one.
func longChaos(t *testing.T) {
	t.Helper()
	if !*chaosAll {
		t.Skip("a make chaos scenario (-chaos.all)")
	}
}

// TestChaosControllerKilled SIGKILLs the controller at random moments while
// it leads and runs go on, starting a new process each time (which leads
// once the dead one's Lease expires, as a restarted pod would) and a new
// run. Every run must end Succeeded
// with its exact status, one Job per step, each created only once the
// previous step's Job was Complete, and no event announced twice. Events
// lost to a kill (a crash between a status write and its events) are
// reported. Not parallel: it kills the shared controller.
func TestChaosControllerKilled(t *testing.T) {
	// A new run starts after each kill, so that every kill finds runs
	// going: each costs a Lease expiry, longer than a run.
	w := newChaosWorkload(t, "chaos", *chaosRuns-*chaosKills)

	ctx, stopKilling := context.WithCancel(context.Background())
	var killer sync.WaitGroup
	killer.Add(1)
	kills := 0
	go func() {
		defer killer.Done()
		defer func() {
			if err := w.rest(); err != nil {
				t.Errorf("%v", err)
			}
		}()
		for kills < *chaosKills && ctx.Err() == nil {
			// Kill only a controller that leads: a new process waits up
			// to 15 s for the dead one's Lease, and a kill in that
			// window would hit a process that reconciles nothing.
			holder, err := leaseHolder(ctx)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("waiting for the controller to lead: %v", err)
				}
				return
			}
			time.Sleep(time.Duration(200+rand.IntN(2500)) * time.Millisecond)
			if err := killController(); err != nil {
				t.Errorf("killing the controller: %v", err)
				return
			}
			kills++
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
			if err := startController(context.Background()); err != nil {
				t.Errorf("starting the controller: %v", err)
				return
			}
			if _, err := waitForNewHolder(ctx, holder); err != nil {
				if ctx.Err() == nil {
					t.Errorf("after a kill: %v", err)
				}
				return
			}
			if err := w.next(); err != nil {
				t.Errorf("%v", err)
				return
			}
		}
	}()
	t.Cleanup(func() { stopKilling(); killer.Wait() })

	lost := w.wait(*chaosTimeout)
	stopKilling()
	killer.Wait()
	w.check(t, "controller SIGKILLed", fmt.Sprintf("%d SIGKILLs", kills), lost)
}
