package crd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"sigs.k8s.io/yaml"

	"example.com/sequentialjob/config/crd"
)

// object is a SequentialJob with the given spec (YAML) and name.
func object(t *testing.T, name, spec string) map[string]any {
	t.Helper()
	var obj map[string]any
	doc := fmt.Sprintf("apiVersion: batch.example.com/v1alpha1\nkind: SequentialJob\nmetadata: {name: %s, namespace: default}\nspec:\n%s", name, spec)
	require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
	return obj
}

const oneStep = "  containers: [{name: a, image: busybox}]\n"

// TestCRDValidationRules runs every schema and CEL rule of the generated CRD
// through apiextensions-apiserver's structural schema and CEL validator: an
// accept case and a reject case each, with the message a user would read.
func TestCRDValidationRules(t *testing.T) {
	steps := func(n int) string {
		var b strings.Builder
		b.WriteString("  containers:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: s%d, image: busybox}\n", i)
		}
		return b.String()
	}
	cases := map[string]struct {
		reason  string
		name    string
		spec    string
		wantErr string // empty: accepted
	}{
		"seed example without template": {
			reason: "The seed's example has no template; the embedded PodSpec's required containers must not reject it.",
			spec:   "  containers:\n  - name: step1\n    image: busybox\n    command: [sh, -c]\n    args: [\"echo 'Processing step 1'; sleep 10\"]\n    resources: {requests: {memory: 64Mi, cpu: 100m}}\n",
		},
		"template with pod settings only": {
			reason: "A template that sets shared pod settings but no containers is the normal case.",
			spec:   oneStep + "  template: {metadata: {labels: {team: data}}, spec: {nodeSelector: {pool: batch}, serviceAccountName: runner}}\n",
		},
		"template with containers": {
			reason:  "Steps come from spec.containers only.",
			spec:    oneStep + "  template: {spec: {containers: [{name: x, image: busybox}]}}\n",
			wantErr: "spec.template.spec.containers must be empty: the steps come from spec.containers",
		},
		"restartPolicy OnFailure": {
			reason: "A Job allows OnFailure.",
			spec:   oneStep + "  template: {spec: {restartPolicy: OnFailure}}\n",
		},
		"restartPolicy Always": {
			reason:  "A Job rejects Always; admission says so before any Job is created.",
			spec:    oneStep + "  template: {spec: {restartPolicy: Always}}\n",
			wantErr: "spec.template.spec.restartPolicy must be Never or OnFailure, as a Job requires",
		},
		"unique step names": {
			reason: "Distinct names are accepted.",
			spec:   steps(3),
		},
		"duplicate step names": {
			reason:  "Two steps named alike are rejected with the CEL rule's message.",
			spec:    "  containers: [{name: a, image: busybox}, {name: a, image: alpine}]\n",
			wantErr: "step names (spec.containers[].name) must be unique",
		},
		"name of 60 characters": {
			reason: "60 characters leave room for '-<index>' in a 63-character Job name.",
			name:   strings.Repeat("a", 60),
			spec:   oneStep,
		},
		"name of 61 characters": {
			reason:  "Longer names would not fit the Job names.",
			name:    strings.Repeat("a", 61),
			spec:    oneStep,
			wantErr: "metadata.name must be at most 60 characters, so that the step Job names (<name>-<index>) fit in 63",
		},
		"no steps": {
			reason:  "At least one step.",
			spec:    "  containers: []\n",
			wantErr: "spec.containers: Invalid value: 0: spec.containers in body should have at least 1 items",
		},
		"64 steps": {
			reason: "The bound is inclusive.",
			spec:   steps(64),
		},
		"65 steps": {
			reason:  "List sizes are bounded, which keeps the CEL cost estimate within budget.",
			spec:    steps(65),
			wantErr: "spec.containers: Too many: 65: must have at most 64 items",
		},
		"step name over 63 characters": {
			reason:  "A container name is a DNS label; the bound also prices the unique-names rule.",
			spec:    "  containers: [{name: " + strings.Repeat("a", 64) + ", image: busybox}]\n",
			wantErr: "spec.containers[0].name: Too long: may not be more than 63 bytes",
		},
		"updateStrategy Immutable": {
			reason: "A known strategy.",
			spec:   oneStep + "  updateStrategy: {type: Immutable}\n",
		},
		"updateStrategy unknown": {
			reason:  "Only Continue and Immutable exist.",
			spec:    oneStep + "  updateStrategy: {type: Replace}\n",
			wantErr: `spec.updateStrategy.type: Unsupported value: "Replace": supported values: "Continue", "Immutable"`,
		},
		"negative backoffLimit": {
			reason:  "backoffLimit follows the Job's bounds.",
			spec:    oneStep + "  backoffLimit: -1\n",
			wantErr: "spec.backoffLimit in body should be greater than or equal to 0",
		},
	}
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			objName := tc.name
			if objName == "" {
				objName = "sj"
			}
			problems := schema.Admit(object(t, objName, tc.spec))
			if tc.wantErr == "" {
				assert.Empty(t, problems)
				return
			}
			assert.Contains(t, strings.Join(problems, "\n"), tc.wantErr)
		})
	}
}

// TestCRDPassesAPIExtensionsValidation: the CRD is accepted as the apiserver
// would accept it, including the CEL cost budget for every rule.
func TestCRDPassesAPIExtensionsValidation(t *testing.T) {
	var v1 apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(crd.SequentialJobs, &v1))
	var internal apiextensionsinternal.CustomResourceDefinition
	require.NoError(t, apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil))
	// The apiserver records the storage version before it validates a new CRD.
	internal.Status.StoredVersions = []string{"v1alpha1"}
	errs := apiextensionsvalidation.ValidateCustomResourceDefinition(context.Background(), &internal)
	assert.Empty(t, errs.ToAggregate())
}
