package e2e

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The controller's identity, as config/rbac and config/manager ship it.
const (
	systemNamespace = "sequentialjob-system"
	controllerSA    = "sequentialjob-controller"
	controllerUser  = "system:serviceaccount:" + systemNamespace + ":" + controllerSA
	leaseName       = "sequentialjob-controller.batch.example.com"
	metricsReader   = "sequentialjob-metrics-reader"
)

// installShipped installs the controller's namespace and the shipped RBAC
// as a user would (server-side apply of config/manager/namespace.yaml and
// config/rbac), and writes a kubeconfig with a TokenRequest token of the
// controller's ServiceAccount: the controller gets what the shipped roles
// grant, and nothing more.
func installShipped(ctx context.Context) error {
	for _, args := range [][]string{
		{"apply", "--server-side", "-f", filepath.Join(repoRoot(), "config", "manager", "namespace.yaml")},
		{"apply", "--server-side", "-k", filepath.Join(repoRoot(), "config", "rbac")},
	} {
		if out, err := cluster.Kubectl(ctx, args...); err != nil {
			return fmt.Errorf("kubectl %v: %w\n%s", args, err, out)
		}
	}
	var err error
	controllerKubeconfig, err = cluster.ServiceAccountKubeconfig(ctx, systemNamespace, controllerSA, 24*time.Hour)
	return err
}

// serviceAccountToken creates a ServiceAccount in ns, binds it to the
// ClusterRole role when role is not empty, and returns a token for it.
func serviceAccountToken(t *testing.T, ns, name, role string) string {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}))
	if role != "" {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		}
		require.NoError(t, k8s.Create(ctx, binding))
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), binding) })
	}
	tr, err := cluster.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// metricsGet GETs the metrics endpoint with token (none when empty). The
// controller's certificate is self-signed (no cert is mounted): the token
// is what this test is about.
func metricsGet(t *testing.T, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, metricsURL, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	require.NoError(t, err)
	return resp
}

// TestMetricsAuthorization: with the default flags, the metrics endpoint
// serves a token bound to the shipped metrics-reader ClusterRole, refuses a
// valid token without that binding (403), and one without a token (401).
// The controller checks them through the apiserver with the shipped RBAC.
func TestMetricsAuthorization(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"bound to " + metricsReader, serviceAccountToken(t, ns, "prometheus", metricsReader), http.StatusOK},
		{"no binding", serviceAccountToken(t, ns, "nosy", ""), http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
	} {
		resp := metricsGet(t, c.token)
		_ = resp.Body.Close()
		require.Equal(t, c.want, resp.StatusCode, "a scrape with a token %s", c.name)
	}
}

// TestLeaderElection: under the shipped Role, the controller holds the
// Lease in its namespace and keeps renewing it.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	var first *coordinationv1.Lease
	waitFor(t, "the controller to hold the Lease "+systemNamespace+"/"+leaseName, func(ctx context.Context) (bool, error) {
		lease := &coordinationv1.Lease{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: leaseName}, lease); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || lease.Spec.RenewTime == nil {
			return false, nil
		}
		if first == nil {
			first = lease
			return false, nil
		}
		return lease.Spec.RenewTime.After(first.Spec.RenewTime.Time), nil
	})
}

// wholeSuite reports whether every test of the binary ran, so that the
// audit log holds every request the controller makes in the e2e tier.
func wholeSuite() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}
