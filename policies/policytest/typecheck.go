package policytest

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	crd "example.com/sequentialjob/config/crd"
)

const refPrefix = "#/components/schemas/"

// crdResolver resolves SequentialJob from the installed CRD the way the
// apiserver's type checker does: the CRD's OpenAPI v3 document (the same
// builder serves /openapi/v3 for CRDs), with $refs such as ObjectMeta
// inlined. ConfigMap, the params kind, gets its schema from that document's
// ObjectMeta plus data and binaryData.
type crdResolver struct {
	schemas map[string]*spec.Schema
	root    string
}

func newCRDResolver() (*crdResolver, error) {
	obj := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(crd.SequentialJobs, obj); err != nil {
		return nil, fmt.Errorf("config/crd/sequentialjobs.yaml: %w", err)
	}
	doc, err := builder.BuildOpenAPIV3(obj, SequentialJobGVK.Version, builder.Options{})
	if err != nil {
		return nil, err
	}
	r := &crdResolver{schemas: doc.Components.Schemas}
	for name, s := range doc.Components.Schemas {
		var gvks []schema.GroupVersionKind
		if err := s.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks); err != nil {
			return nil, err
		}
		for _, g := range gvks {
			if g == SequentialJobGVK {
				r.root = refPrefix + name
			}
		}
	}
	if r.root == "" {
		return nil, fmt.Errorf("the CRD's OpenAPI document has no %v", SequentialJobGVK)
	}
	return r, nil
}

func (r *crdResolver) schemaOf(ref string) (*spec.Schema, bool) {
	s, ok := r.schemas[ref[len(refPrefix):]]
	return s, ok
}

func (r *crdResolver) ResolveSchema(gvk schema.GroupVersionKind) (*spec.Schema, error) {
	switch gvk {
	case SequentialJobGVK:
		return resolver.PopulateRefs(r.schemaOf, r.root)
	case corev1.SchemeGroupVersion.WithKind("ConfigMap"):
		objectMeta, err := resolver.PopulateRefs(r.schemaOf, refPrefix+"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
		if err != nil {
			return nil, err
		}
		str := spec.StringProperty()
		return &spec.Schema{SchemaProps: spec.SchemaProps{
			Type: []string{"object"},
			Properties: map[string]spec.Schema{
				"apiVersion": *str,
				"kind":       *str,
				"metadata":   *objectMeta,
				"data":       *spec.MapProperty(str),
				"binaryData": *spec.MapProperty(spec.StrFmtProperty("byte")),
				"immutable":  *spec.BoolProperty(),
			},
		}}, nil
	}
	return nil, fmt.Errorf("%v: %w", gvk, resolver.ErrSchemaNotFound)
}

// TypeCheck type-checks every expression of a policy (match conditions,
// variables, validations, message expressions) with the apiserver's
// ValidatingAdmissionPolicy type checker, against the CRD's schema and the
// params' schema. It returns one line per warning; the apiserver would put
// the same findings in the policy's status.typeChecking.
func TypeCheck(p *admissionregistrationv1.ValidatingAdmissionPolicy) ([]string, error) {
	r, err := newCRDResolver()
	if err != nil {
		return nil, err
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.AddSpecific(SequentialJobGVK, SequentialJobGVR, SequentialJobGVR.GroupVersion().WithResource("sequentialjob"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	return TypeCheckWith(p, r, mapper), nil
}

// TypeCheckWith is TypeCheck with the schemas and kinds from elsewhere, for
// example a live apiserver's discovery (resolver.ClientDiscoveryResolver),
// which is what kube-controller-manager uses to fill status.typeChecking.
func TypeCheckWith(p *admissionregistrationv1.ValidatingAdmissionPolicy, r resolver.SchemaResolver, mapper meta.RESTMapper) []string {
	checker := &validating.TypeChecker{SchemaResolver: r, RestMapper: mapper}

	var warnings []string
	add := func(field, expr string) {
		if expr == "" {
			return
		}
		ctx := checker.CreateContext(p)
		if res := checker.CheckExpression(ctx, expr); len(res) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s: %s", field, res.String()))
		}
	}
	// Check itself covers validations; the rest goes through the same path.
	for _, w := range checker.Check(p) {
		warnings = append(warnings, fmt.Sprintf("%s: %s", w.FieldRef, w.Warning))
	}
	for i, m := range p.Spec.MatchConditions {
		add(fmt.Sprintf("spec.matchConditions[%d].expression", i), m.Expression)
	}
	for i, v := range p.Spec.Variables {
		add(fmt.Sprintf("spec.variables[%d].expression", i), v.Expression)
	}
	return warnings
}
