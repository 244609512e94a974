package gitops_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"example.com/sequentialjob/config/crd"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

// TestAggregatedRoles: people bound to the built-in edit (and admin) role
// can manage SequentialJobs; people bound to view can read them, status
// included, and nothing more. The rules name the CRD's real group and plural.
func TestAggregatedRoles(t *testing.T) {
	for _, definition := range [][]byte{crd.SequentialJobs, crd.SequentialCronJobs} {
		var def apiextensionsv1.CustomResourceDefinition
		require.NoError(t, yaml.Unmarshal(definition, &def))
		group, plural := def.Spec.Group, def.Spec.Names.Plural

		roles := map[string]rbacv1.ClusterRole{}
		data, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "rbac", "aggregate_roles.yaml"))
		require.NoError(t, err)
		all, err := fixtures.DecodeAll[rbacv1.ClusterRole](data)
		require.NoError(t, err)
		for _, role := range all {
			roles[role.Name] = role
		}

		allowed := func(role rbacv1.ClusterRole, resource, verb string) bool {
			for _, r := range role.Rules {
				if contains(r.APIGroups, group) && contains(r.Resources, resource) && contains(r.Verbs, verb) {
					return true
				}
			}
			return false
		}

		edit, ok := roles["sequentialjob-edit"]
		require.True(t, ok)
		assert.Equal(t, "true", edit.Labels["rbac.authorization.k8s.io/aggregate-to-edit"])
		assert.Equal(t, "true", edit.Labels["rbac.authorization.k8s.io/aggregate-to-admin"])
		for _, verb := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
			assert.True(t, allowed(edit, plural, verb), "edit: %s %s", verb, plural)
		}
		assert.True(t, allowed(edit, plural+"/status", "get"))
		assert.False(t, allowed(edit, plural+"/status", "patch"), "only the controller writes status")

		view, ok := roles["sequentialjob-view"]
		require.True(t, ok)
		assert.Equal(t, "true", view.Labels["rbac.authorization.k8s.io/aggregate-to-view"])
		for _, resource := range []string{plural, plural + "/status"} {
			for _, verb := range []string{"get", "list", "watch"} {
				assert.True(t, allowed(view, resource, verb), "view: %s %s", verb, resource)
			}
			for _, verb := range []string{"create", "update", "patch", "delete"} {
				assert.False(t, allowed(view, resource, verb), "view must not %s %s", verb, resource)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}
