package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAggregatedRoles: with config/rbac/aggregate_roles.yaml installed, the
// built-in edit and view roles, bound in a namespace as people already do,
// cover SequentialJobs; kube-controller-manager's clusterrole-aggregation
// controller merges the rules.
func TestAggregatedRoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	kubectl(t, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "config", "rbac", "aggregate_roles.yaml"))
	for user, role := range map[string]string{"erin-editor": "edit", "vic-viewer": "view"} {
		require.NoError(t, k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		}))
	}
	can := func(user, verb, subresource string) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user,
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: verb, Group: "batch.example.com", Resource: "sequentialjobs", Subresource: subresource,
				},
			}}
			if err := k8s.Create(ctx, review); err != nil {
				return false, err
			}
			return review.Status.Allowed, nil
		}
	}
	waitFor(t, "edit to allow creating SequentialJobs", can("erin-editor", "create", ""))
	waitFor(t, "view to allow listing SequentialJobs", can("vic-viewer", "list", ""))

	for _, denied := range []struct{ user, verb, subresource string }{
		{"vic-viewer", "create", ""},
		{"erin-editor", "patch", "status"}, // the status belongs to the controller
	} {
		allowed, err := can(denied.user, denied.verb, denied.subresource)(ctx)
		require.NoError(t, err)
		require.False(t, allowed, "%s may %s sequentialjobs/%s", denied.user, denied.verb, denied.subresource)
	}
}
