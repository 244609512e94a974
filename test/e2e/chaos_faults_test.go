package e2e

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"

	"example.com/sequentialjob/test/faultproxy"
)

var (
	chaosFaultRate = flag.Float64("chaos.fault-rate", 0.10, "TestChaosAPIFaults: share of the controller's requests that get a fault")
	chaosWatchCuts = flag.Float64("chaos.watch-cut-rate", 1, "TestChaosAPIFaults: share of the controller's watches cut after 1 to 10 s")
	chaosSeed      = flag.Uint64("chaos.seed", 0, "TestChaosAPIFaults: seed of the fault choices; 0 picks one from the clock (printed)")
)

// TestChaosAPIFaults puts a fault proxy between the controller and the
// apiserver: a share of the controller's requests (chaos.fault-rate) get a
// 500, a 409, a 429 or no answer at all, some writes are applied but
// answered 500, and every watch is cut after 1 to 10 s (the client must
// resume each without missing a change). The controller must still end
// every run exactly, with one Job per step: it may retry, but an apply it
// believes failed must not start a step twice, and an error must not end a
// step or a run. The test's own client talks to the apiserver directly.
func TestChaosAPIFaults(t *testing.T) {
	longChaos(t)
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("chaos API faults: seed %d (-chaos.seed=%d repeats the fault choices)\n", seed, seed)
	proxy, err := faultproxy.Start(faultproxy.Options{
		Upstream: cluster.Config.Host, UpstreamCA: cluster.Config.CAData,
		Rate: *chaosFaultRate, WatchCutRate: *chaosWatchCuts, Seed: seed,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	pods := startPods(t, 1, proxyKubeconfig(t, proxy))

	w := newChaosWorkload(t, "faults", *chaosRuns)
	lost := w.wait(*chaosTimeout)
	stats := proxy.Stats()
	exits, lastExit := podExits(pods)
	if exits > 0 {
		fmt.Printf("chaos API faults: the controller exited %d times by itself (last: %v); restarted as a kubelet would\n", exits, lastExit)
	}
	w.check(t, "API faults", fmt.Sprintf("%d faults in %d requests (%s), %d controller exits", stats.Total(), stats.Requests, stats, exits), lost)
}

// proxyKubeconfig is the controller's kubeconfig (its ServiceAccount's
// token) pointed at the proxy, which it trusts by the proxy's own CA.
func proxyKubeconfig(t *testing.T, proxy *faultproxy.Proxy) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(controllerKubeconfig)
	require.NoError(t, err)
	for _, c := range kc.Clusters {
		c.Server = proxy.URL
		c.CertificateAuthorityData = proxy.CA()
		c.CertificateAuthority = ""
	}
	path := filepath.Join(t.TempDir(), "controller-via-faultproxy.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, path))
	return path
}
