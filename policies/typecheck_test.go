package policies_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/policies"
	"example.com/sequentialjob/policies/policytest"
)

// TestPoliciesTypeCheck: every expression of every shipped policy compiles
// without type-check warnings against the CRD's schema.
func TestPoliciesTypeCheck(t *testing.T) {
	set, err := policies.Load()
	require.NoError(t, err)
	require.NotEmpty(t, set.Policies)
	for _, p := range set.Policies {
		t.Run(p.Name, func(t *testing.T) {
			warnings, err := policytest.TypeCheck(p)
			require.NoError(t, err)
			assert.Empty(t, warnings)
		})
	}
}

// TestTypeCheckCatchesMistakes proves the check above is not vacuous: the
// schemas resolve, so a misspelt field is reported, in every kind of
// expression.
func TestTypeCheckCatchesMistakes(t *testing.T) {
	set, err := policies.Load()
	require.NoError(t, err)
	p := set.Policy("sequentialjob-max-steps").DeepCopy()
	p.Spec.MatchConditions[0].Expression = "object.spec.containerz != null"
	p.Spec.Variables[0].Expression = "int(params.dat.maxSteps)"
	p.Spec.Validations[0].Expression = "object.spec.backoffLimit == 'three'"
	p.Spec.Validations[0].MessageExpression = "object.metadata.nam"
	warnings, err := policytest.TypeCheck(p)
	require.NoError(t, err)
	require.Len(t, warnings, 4, "%q", warnings)
	assert.Contains(t, warnings[0], "spec.validations[0].expression: batch.example.com/v1alpha1, Kind=SequentialJob: ERROR: <input>:1:26: found no matching overload for '_==_'")
	assert.Contains(t, warnings[1], "spec.validations[0].messageExpression")
	assert.Contains(t, warnings[1], "undefined field 'nam'")
	assert.Contains(t, warnings[2], "undefined field 'containerz'")
	assert.Contains(t, warnings[3], "undefined field 'dat'")
}
