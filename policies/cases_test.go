package policies_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/policies/policytest"
)

// TestCases runs every testdata/<policy>/<case>.<allow|deny|warn>.yaml
// through the apiserver's ValidatingAdmissionPolicy plugin, offline.
func TestCases(t *testing.T) {
	ev, err := policytest.NewEvaluator()
	require.NoError(t, err)
	cases, err := policytest.LoadCases("testdata")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(cases), 25, "the harness promises at least 25 cases")

	for _, c := range cases {
		t.Run(c.ID(), func(t *testing.T) {
			t.Parallel()
			res, err := ev.Evaluate(context.Background(), c)
			require.NoError(t, err)
			for _, p := range policytest.Check(c, res) {
				t.Errorf("%s: %s", c.Path, p)
			}
			switch c.Expect {
			case policytest.Warn:
				// Warn bindings also carry Audit: the failure lands in the audit log.
				assert.Contains(t, res.AuditAnnotations[policytest.AuditAnnotationKey], `"policy":"`+c.Policy+`"`)
			}
			t.Logf("%s", res)
		})
	}
}

// TestEveryPolicyIsCovered: each shipped policy has allow and deny cases,
// each organisation policy (the ones with params) a warn case too, and every
// testdata directory names a shipped policy.
func TestEveryPolicyIsCovered(t *testing.T) {
	ev, err := policytest.NewEvaluator()
	require.NoError(t, err)
	cases, err := policytest.LoadCases("testdata")
	require.NoError(t, err)
	seen := map[string]map[policytest.Decision]int{}
	for _, c := range cases {
		require.NotNil(t, ev.Set.Policy(c.Policy), "%s: directory %s names no shipped policy", c.Path, c.Policy)
		if seen[c.Policy] == nil {
			seen[c.Policy] = map[policytest.Decision]int{}
		}
		seen[c.Policy][c.Expect]++
	}
	for _, p := range ev.Set.Policies {
		want := []policytest.Decision{policytest.Allow, policytest.Deny}
		if p.Spec.ParamKind != nil {
			want = append(want, policytest.Warn)
		}
		for _, d := range want {
			assert.Positive(t, seen[p.Name][d], "policy %s has no %s case in testdata/%s/", p.Name, d, p.Name)
		}
		assert.True(t, strings.HasPrefix(p.Name, "sequentialjob-"), "policy names start with sequentialjob-: %s", p.Name)
	}
}
