package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var chaosLeaderKills = flag.Int("chaos.leader-kills", 5, "TestChaosLeaderKilled: SIGKILLs of the leading replica")

// TestChaosLeaderKilled runs two replicas with leader election, as the
// Deployment would with replicas: 2, and SIGKILLs the leader at random
// moments. The standby must take over once the dead leader's Lease expires,
// and carry every run on from where the status says it is. Two replicas
// must never lead at once.
func TestChaosLeaderKilled(t *testing.T) {
	longChaos(t)
	pods := startPods(t, 2, controllerKubeconfig)
	// A new run starts after each kill, so that the next one finds runs
	// going.
	w := newChaosWorkload(t, "leader", *chaosRuns-*chaosLeaderKills)
	token := serviceAccountToken(t, w.ns, "prometheus", metricsReader)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	kills, twoLeaders := 0, 0
	var failovers []time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if err := w.rest(); err != nil {
				t.Errorf("%v", err)
			}
		}()
		for kills < *chaosLeaderKills {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(1000+rand.IntN(4000)) * time.Millisecond):
			}
			if w.unfinished(ctx) == 0 {
				return
			}
			leader, holder, both, err := findLeader(ctx, pods, token)
			twoLeaders += both
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("finding the leader: %v", err)
				}
				return
			}
			if err := leader.kill(); err != nil {
				t.Errorf("killing the leader %s: %v", leader.name, err)
				return
			}
			kills++
			took, err := waitForNewHolder(ctx, holder)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("after killing the leader %s: %v", leader.name, err)
				}
				return
			}
			failovers = append(failovers, took)
			fmt.Printf("chaos leader kill %d: %s (%s) killed; a new holder took the Lease after %s\n",
				kills, leader.name, holder, took.Round(100*time.Millisecond))
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
	var longest time.Duration
	for _, d := range failovers {
		longest = max(longest, d)
	}
	w.check(t, "leader SIGKILLed", fmt.Sprintf("%d leader SIGKILLs (failover <= %s), %d other exits", kills, longest.Round(time.Second), exits), lost)
	if twoLeaders > 0 {
		t.Errorf("two replicas reported leading at the same time, %d times", twoLeaders)
	}
	if kills < *chaosLeaderKills {
		t.Errorf("only %d of %d leader kills happened while runs were going", kills, *chaosLeaderKills)
	}
}

// findLeader waits until exactly one replica says it leads and returns it
// with the Lease's holderIdentity. both counts the times two said so.
func findLeader(ctx context.Context, pods []*pod, token string) (leader *pod, holder string, both int, err error) {
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		var leading []*pod
		for _, p := range pods {
			if ok, err := p.leads(ctx, token); err == nil && ok {
				leading = append(leading, p)
			}
		}
		if len(leading) > 1 {
			both++
		}
		if len(leading) != 1 {
			return false, nil
		}
		lease, err := currentLease(ctx)
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return false, nil
		}
		leader, holder = leading[0], *lease.Spec.HolderIdentity
		return true, nil
	})
	return leader, holder, both, err
}

// waitForNewHolder waits until the Lease names a holder other than old, and
// returns how long that took: the failover time.
func waitForNewHolder(ctx context.Context, old string) (time.Duration, error) {
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := currentLease(ctx)
		if err != nil {
			return false, nil
		}
		h := lease.Spec.HolderIdentity
		return h != nil && *h != "" && *h != old, nil
	})
	if err != nil {
		return 0, errors.Join(fmt.Errorf("the Lease stayed with %s", old), err)
	}
	return time.Since(start), nil
}

func currentLease(ctx context.Context) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	return lease, k8s.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: leaseName}, lease)
}

// leaseHolder waits until the Lease has a holder and returns it.
func leaseHolder(ctx context.Context) (string, error) {
	var holder string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := currentLease(ctx)
		if err != nil || lease.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *lease.Spec.HolderIdentity
		return holder != "", nil
	})
	return holder, err
}
