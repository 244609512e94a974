package crd

import (
	"context"
	"fmt"
	"sort"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Schema is the structural schema and CEL validator of the served version,
// built from the installed CRD: offline tools and tests validate exactly as
// the apiserver does.
type Schema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// LoadSchema builds the Schema of the embedded CRD.
func LoadSchema() (*Schema, error) {
	var crdV1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(SequentialJobs, &crdV1); err != nil {
		return nil, fmt.Errorf("reading the embedded CRD: %w", err)
	}
	var version *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range crdV1.Spec.Versions {
		if crdV1.Spec.Versions[i].Name == v1alpha1.GroupVersion.Version {
			version = &crdV1.Spec.Versions[i]
		}
	}
	if version == nil || version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("the embedded CRD has no schema for %s", v1alpha1.GroupVersion.Version)
	}
	var internal apiextensionsinternal.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(version.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting the embedded CRD schema: %w", err)
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("the embedded CRD schema is not structural: %w", err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("the embedded CRD schema: %w", err)
	}
	return &Schema{
		structural: structural,
		validator:  validator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Admit prunes, defaults and validates obj in place, in the apiserver's
// order, and returns its errors as the apiserver prints them. Unknown fields
// are errors, as with kubectl's default (strict) field validation.
func (s *Schema) Admit(obj map[string]any) []string {
	var problems []string
	unknown := structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	metaErr, metaUnknown := schemaobjectmeta.CoerceWithOptions(nil, obj, s.structural, true, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	for _, path := range append(unknown, metaUnknown...) {
		problems = append(problems, fmt.Sprintf("unknown field %q", path))
	}
	if metaErr != nil {
		problems = append(problems, metaErr.Error())
	}
	if len(problems) > 0 {
		return problems
	}
	structuraldefaulting.Default(obj, s.structural)

	for _, e := range s.Validate(obj) {
		problems = append(problems, e.Error())
	}
	// The schema validator reports in map order; sorted, the same input
	// always prints the same errors.
	sort.Strings(problems)
	return problems
}

// Validate validates a pruned and defaulted obj as the apiserver's custom
// resource strategy does on create: metadata, OpenAPI schema, list-map and
// list-set invariants, then the CEL rules unless an error makes their input
// unreliable.
func (s *Schema) Validate(obj map[string]any) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, objectMetaErrors(obj)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, s.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, obj, s.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if blocksCEL(errs) {
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// blocksCEL mirrors the apiserver (customresource.hasBlockingErr): these
// errors mean a CEL rule could see a value of the wrong shape.
func blocksCEL(errs field.ErrorList) bool {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// objectMetaErrors are the metadata rules of a namespaced custom resource
// that render relies on: a valid name (generateName has no meaning offline).
func objectMetaErrors(obj map[string]any) field.ErrorList {
	u := &unstructured.Unstructured{Object: obj}
	if u.GetName() == "" {
		return field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name is required")}
	}
	accessor := &metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace()}
	if accessor.Namespace == "" {
		accessor.Namespace = "default"
	}
	return apimachineryvalidation.ValidateObjectMeta(accessor, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}
