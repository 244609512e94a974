package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/localcluster"
)

// ShippedRoleKubeconfig applies the shipped ClusterRole
// (config/rbac/role.yaml), binds user to it alone and returns a kubeconfig
// acting as user: a controller started with it runs as it does in a
// cluster, with exactly the rights the release grants, so a missing verb
// fails the test that needs it.
func ShippedRoleKubeconfig(ctx context.Context, t *testing.T, cluster *localcluster.Cluster, c client.Client, user string) string {
	t.Helper()
	out, err := cluster.Kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(Root(), "config", "rbac", "role.yaml"))
	require.NoError(t, err, "%s", out)
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "sequentialjob-controller"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}))
	kubeconfig, err := cluster.UserKubeconfig(user)
	require.NoError(t, err)
	return kubeconfig
}
