package crd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/config/crd"
)

// fieldClass is what updateStrategy Immutable does with a spec field once
// the run has started.
type fieldClass string

const (
	// runControl fields act on the run, not on what it runs: they may
	// change on a started Immutable run, and the rule must not look at them.
	runControl fieldClass = "run control"
	// whatItRuns fields say what the run runs, and how: a started Immutable
	// run keeps them as they were, so the rule must compare each one.
	whatItRuns fieldClass = "what it runs"
)

// specFields classifies every field of SequentialJobSpec, by its JSON name.
// A new spec field fails TestImmutableRuleCoversTheSpec until it is added
// here, and then until the Immutable rule (the XValidation marker on
// SequentialJob, and policies/immutable-once-started.yaml) agrees.
//
// edit is a change of the field, appended to the spec `immutable`, that
// TestImmutableRuleByField applies to a started run (containers, which that
// spec already sets, is changed by replacing the spec instead).
var specFields = map[string]struct {
	class fieldClass
	why   string
	edit  string
}{
	"containers": {whatItRuns, "the steps themselves", ""},
	"template":   {whatItRuns, "the pod of every step", "  template: {metadata: {labels: {team: data}}}\n"},
	"stepTemplate": {whatItRuns, "the container defaults merged into every step and finally step",
		"  stepTemplate: {env: [{name: MODE, value: fast}]}\n"},
	"backoffLimit": {whatItRuns, "copied to every step's Job: how often a step may fail",
		"  backoffLimit: 2\n"},
	"activeDeadlineSeconds": {whatItRuns, "copied to every step's Job: how long a step may run",
		"  activeDeadlineSeconds: 600\n"},
	"podFailurePolicy": {whatItRuns, "copied to every step's Job: which pod failures fail a step",
		"  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}\n"},
	"stepSettings": {whatItRuns, "the same, per step, and onFailure: whether a failed step stops the run",
		"  stepSettings: [{name: b, backoffLimit: 1}]\n"},
	"finally": {whatItRuns, "steps the run runs at its end", "  finally: [{name: z, image: busybox}]\n"},
	"runDeadlineSeconds": {whatItRuns, "part of the run's definition, like a step's activeDeadlineSeconds: " +
		"moving it mid-run changes whether the run succeeds, so it is frozen with the rest " +
		"(docs/step-controls.md names only suspend, approvedSteps, retryToken, retryFrom and ttlSecondsAfterFinished as run controls)",
		"  runDeadlineSeconds: 60\n"},
	"jobManagedBy": {whatItRuns, "which controller runs the step Jobs (Kueue's MultiKueue: on which cluster)",
		"  jobManagedBy: kueue.x-k8s.io/multikueue\n"},
	"updateStrategy": {whatItRuns, "if it could change, Immutable would last only until the first edit " +
		"that switches it to Continue",
		"  updateStrategy: {type: Continue}\n"},
	"suspend": {runControl, "pauses and resumes the same run: the same Jobs, nothing re-rendered",
		"  suspend: true\n"},
	"retryToken": {runControl, "re-runs a failed run from its failed step, with the spec it ran",
		"  retryToken: again\n"},
	"retryFrom": {runControl, "with retryToken, the step a retry re-runs from: it re-runs the spec the run has",
		"  retryFrom: a\n"},
	"approvedSteps": {runControl, "releases an approval gate of the same run: what each step runs stays as it was",
		"  approvedSteps: [b]\n"},
	"ttlSecondsAfterFinished": {runControl, "when to delete the finished run: changes nothing it runs",
		"  ttlSecondsAfterFinished: 60\n"},
	"volumeClaimTemplates": {whatItRuns, "the volumes every step reads and writes: a claim is created from it before " +
		"the first step, so an edit after that would describe a claim the run does not have",
		"  volumeClaimTemplates: [{name: ws, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n"},
	"volumeClaimRetention": {runControl, "when to delete the finished run's claims, like ttlSecondsAfterFinished: " +
		"changes nothing the steps run or read; Retain can be asked mid-run to keep a failing run's workspace",
		"  volumeClaimRetention: {whenFinished: Retain}\n"},
}

// specFieldBase is appended to the spec `immutable` before a field's edit,
// where the edit needs it to be valid at all: an approval names a gated step.
var specFieldBase = map[string]string{
	"approvedSteps": "  stepSettings: [{name: b, approval: Required}]\n",
}

// specJSONFields is the JSON names of SequentialJobSpec's fields.
func specJSONFields(t *testing.T) []string {
	t.Helper()
	typ := reflect.TypeFor[v1alpha1.SequentialJobSpec]()
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		require.NotEmpty(t, name, "SequentialJobSpec.%s has no JSON name: classify what it inlines by hand", f.Name)
		if name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// immutableRule is the CEL rule of the generated CRD (the embedded
// config/crd/sequentialjobs.yaml) whose message is "spec is immutable: ...".
func immutableRule(t *testing.T) string {
	t.Helper()
	var def apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.Unmarshal(crd.SequentialJobs, &def))
	var rules []string
	for _, v := range def.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		for _, r := range v.Schema.OpenAPIV3Schema.XValidations {
			if strings.HasPrefix(r.Message, "spec is immutable:") {
				rules = append(rules, r.Rule)
			}
		}
	}
	require.Len(t, rules, 1, "the generated CRD has one Immutable rule")
	return rules[0]
}

// policyChangedFields is the changedFields expression of
// policies/immutable-once-started.yaml, which lists the fields that differ.
func policyChangedFields(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "policies", "immutable-once-started.yaml"))
	require.NoError(t, err)
	doc, _, _ := bytes.Cut(data, []byte("\n---\n"))
	var policy admissionregistrationv1.ValidatingAdmissionPolicy
	require.NoError(t, yaml.UnmarshalStrict(doc, &policy))
	for _, v := range policy.Spec.Variables {
		if v.Name == "changedFields" {
			return v.Expression
		}
	}
	t.Fatal("policies/immutable-once-started.yaml has no variable changedFields")
	return ""
}

// specUse is what a CEL expression does with the top-level spec fields of
// the new object (root newRoot) and of the old one (oldRoot).
type specUse struct {
	// referenced: fields read anywhere, of either object (has() included).
	referenced map[string]bool
	// compared: fields F for which an == or != has the new object's F on one
	// side and the old object's F on the other.
	compared map[string]bool
}

func analyse(t *testing.T, expr, newRoot, oldRoot string) specUse {
	t.Helper()
	env, err := cel.NewEnv(cel.OptionalTypes())
	require.NoError(t, err)
	parsed, iss := env.Parse(expr)
	require.NoError(t, iss.Err())
	root := parsed.NativeRep().Expr()

	// specField is F when e is <root>.spec.F or <root>.spec.?F.
	specField := func(e celast.Expr) (root, field string) {
		var operand celast.Expr
		switch e.Kind() {
		case celast.SelectKind:
			operand, field = e.AsSelect().Operand(), e.AsSelect().FieldName()
		case celast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != operators.OptSelect || len(call.Args()) != 2 || call.Args()[1].Kind() != celast.LiteralKind {
				return "", ""
			}
			operand = call.Args()[0]
			name, ok := call.Args()[1].AsLiteral().Value().(string)
			if !ok {
				return "", ""
			}
			field = name
		default:
			return "", ""
		}
		if operand.Kind() != celast.SelectKind || operand.AsSelect().FieldName() != "spec" {
			return "", ""
		}
		if id := operand.AsSelect().Operand(); id.Kind() == celast.IdentKind {
			return id.AsIdent(), field
		}
		return "", ""
	}
	// fields is the spec fields of root that e reads.
	fields := func(e celast.Expr, want string) map[string]bool {
		out := map[string]bool{}
		celast.PreOrderVisit(e, celast.NewExprVisitor(func(e celast.Expr) {
			if r, f := specField(e); r == want {
				out[f] = true
			}
		}))
		return out
	}

	use := specUse{referenced: map[string]bool{}, compared: map[string]bool{}}
	for f := range fields(root, newRoot) {
		use.referenced[f] = true
	}
	for f := range fields(root, oldRoot) {
		use.referenced[f] = true
	}
	celast.PreOrderVisit(root, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		if (call.FunctionName() != operators.Equals && call.FunctionName() != operators.NotEquals) || len(call.Args()) != 2 {
			return
		}
		l, r := call.Args()[0], call.Args()[1]
		for f := range fields(l, newRoot) {
			if fields(r, oldRoot)[f] {
				use.compared[f] = true
			}
		}
		for f := range fields(l, oldRoot) {
			if fields(r, newRoot)[f] {
				use.compared[f] = true
			}
		}
	}))
	return use
}

// TestImmutableRuleCoversTheSpec: every field of SequentialJobSpec is
// classified in specFields, and the Immutable rule, as generated into the
// CRD, compares exactly the "what it runs" fields and never reads a run
// control. The ValidatingAdmissionPolicy that repeats the rule (for Warn and
// Audit bindings) lists the same fields as changed.
func TestImmutableRuleCoversTheSpec(t *testing.T) {
	fields := specJSONFields(t)
	for _, f := range fields {
		_, ok := specFields[f]
		assert.True(t, ok, "spec.%s is not classified: add it to specFields (config/crd/immutable_test.go) as %q (may change on a started Immutable run) or %q (may not), then make the Immutable rule agree",
			f, runControl, whatItRuns)
	}
	for f := range specFields {
		assert.Contains(t, fields, f, "specFields classifies spec.%s, which SequentialJobSpec does not have", f)
	}

	rule := analyse(t, immutableRule(t), "self", "oldSelf")
	policy := analyse(t, policyChangedFields(t), "object", "oldObject")
	for _, f := range fields {
		c, ok := specFields[f]
		if !ok {
			continue
		}
		switch c.class {
		case whatItRuns:
			assert.True(t, rule.compared[f], "spec.%s is %q (%s) but the CRD's Immutable rule (XValidation on SequentialJob) does not compare self.spec.%[1]s with oldSelf.spec.%[1]s", f, c.class, c.why)
			assert.True(t, policy.compared[f], "spec.%s is %q (%s) but changedFields in policies/immutable-once-started.yaml does not compare it", f, c.class, c.why)
		case runControl:
			assert.False(t, rule.referenced[f], "spec.%s is a %s (%s) but the CRD's Immutable rule reads it", f, c.class, c.why)
			assert.False(t, policy.referenced[f], "spec.%s is a %s (%s) but changedFields in policies/immutable-once-started.yaml reads it", f, c.class, c.why)
		default:
			t.Errorf("spec.%s: unknown class %q", f, c.class)
		}
	}
	for _, use := range []specUse{rule, policy} {
		for f := range use.referenced {
			assert.Contains(t, fields, f, "the Immutable rule reads spec.%s, which SequentialJobSpec does not have", f)
		}
	}
}

// TestImmutableRuleByField changes each spec field, one at a time, on a
// started Immutable run, through the generated CRD's validator: a "what it
// runs" field is rejected with the Immutable message, a run control is
// accepted. The same change on a run that has not started is accepted, so
// the rejection is the Immutable rule's and nothing else's.
func TestImmutableRuleByField(t *testing.T) {
	schema, err := crd.LoadSchema()
	require.NoError(t, err)
	names := make([]string, 0, len(specFields))
	for f := range specFields {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		c := specFields[f]
		t.Run(f, func(t *testing.T) {
			base := immutable + specFieldBase[f]
			newSpec := base + c.edit
			if f == "containers" {
				newSpec = immutableEdited
			}
			require.NotEqual(t, base, newSpec, "specFields[%q].edit must change the field", f)

			pending := stored(t, schema, base, notStarted)
			obj := object(t, "sj", newSpec)
			obj["status"] = pending["status"]
			require.Empty(t, schema.AdmitUpdate(obj, pending), "the edit of spec.%s must be valid on a run that has not started", f)

			running := stored(t, schema, base, firstStepRuns)
			obj = object(t, "sj", newSpec)
			obj["status"] = running["status"]
			problems := schema.AdmitUpdate(obj, running)
			switch c.class {
			case whatItRuns:
				assert.Equal(t, []string{immutableMessage}, problems, "spec.%s is %q: %s", f, c.class, c.why)
			case runControl:
				assert.Empty(t, problems, "spec.%s is a %s: %s", f, c.class, c.why)
			}
		})
	}
}
