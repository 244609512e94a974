//go:build linux

package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// RestartAPIServer stops kube-apiserver (SIGTERM, as a rolling update of a
// control plane would) and starts it again on the same port, with the same
// serving certificate, client CA and service-account key, against the same
// etcd, which keeps running with its data. Every credential issued before
// (the admin kubeconfig, users, ServiceAccount tokens) stays valid, so the
// other components and controllers reconnect by themselves. The chaos tests
// use it to prove that nothing is lost or doubled across an apiserver
// restart.
//
// killed reports that the apiserver did not stop within envtest's stop
// timeout (30s here) and was SIGKILLed, as a kubelet does at the end of the
// grace period. On a busy machine it often is: it stops listening at once
// and then waits on its in-flight requests.
func (c *Cluster) RestartAPIServer() (killed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false, errors.New("localcluster: the cluster is stopped")
	}
	// envtest's APIServer is made to be restarted: it keeps its port and
	// its client-certificate authority, and reuses the serving certificate
	// it finds in CertDir (ours, not a temporary directory).
	api := c.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		// envtest does not export the error; it has SIGKILLed the process.
		if !strings.Contains(err.Error(), "timeout waiting for process") {
			return false, fmt.Errorf("stopping kube-apiserver: %w", err)
		}
		killed = true
	}
	// The new one listens on the same port: wait until the old one is
	// gone from it.
	addr := api.Address + ":" + api.Port
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true, nil
		}
		_ = conn.Close()
		return false, nil
	}); err != nil {
		return killed, fmt.Errorf("kube-apiserver still listens on %s after it stopped: %w", addr, err)
	}
	if err := api.Start(); err != nil {
		return killed, fmt.Errorf("starting kube-apiserver again (logs in %s): %w", c.logHint(), err)
	}
	// The watchdog kills the process groups it found at its start; the new
	// apiserver is a new group.
	c.stopWatchdog()
	c.startWatchdog()
	return killed, nil
}
