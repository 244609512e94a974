//go:build linux

package localcluster

import (
	"errors"
	"fmt"
)

// RestartAPIServer stops kube-apiserver (SIGTERM, as a rolling update of a
// control plane would) and starts it again on the same port, with the same
// serving certificate, client CA and service-account key, against the same
// etcd, which keeps running with its data. Every credential issued before
// (the admin kubeconfig, users, ServiceAccount tokens) stays valid, so the
// other components and controllers reconnect by themselves. The chaos tests
// use it to prove that nothing is lost or doubled across an apiserver
// restart.
func (c *Cluster) RestartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("localcluster: the cluster is stopped")
	}
	// envtest's APIServer is made to be restarted: it keeps its port and
	// its client-certificate authority, and reuses the serving certificate
	// it finds in CertDir (ours, not a temporary directory).
	api := c.env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again (logs in %s): %w", c.logHint(), err)
	}
	// The watchdog kills the process groups it found at its start; the new
	// apiserver is a new group.
	c.stopWatchdog()
	c.startWatchdog()
	return nil
}
