package crd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/common"
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

// LoadSchema builds the Schema of the embedded SequentialJob CRD.
func LoadSchema() (*Schema, error) { return loadSchema(SequentialJobs) }

// LoadCronSchema builds the Schema of the embedded SequentialCronJob CRD.
func LoadCronSchema() (*Schema, error) { return loadSchema(SequentialCronJobs) }

func loadSchema(definition []byte) (*Schema, error) {
	var crdV1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(definition, &crdV1); err != nil {
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
	if problems := s.prepare(obj); len(problems) > 0 {
		return problems
	}
	return sortedMessages(s.Validate(obj))
}

// AdmitUpdate is Admit for an update of old to obj: the rules that compare
// with the old object (oldSelf) run too, and, as in the apiserver (CRD
// validation ratcheting), an error in a value the update left unchanged is
// not reported. old is the object as stored: pruned and defaulted, as Admit
// leaves it. A status write is an update whose obj keeps old's spec, as the
// status subresource does.
func (s *Schema) AdmitUpdate(obj, old map[string]any) []string {
	if problems := s.prepare(obj); len(problems) > 0 {
		return problems
	}
	return sortedMessages(s.ValidateUpdate(obj, old))
}

// prepare prunes, coerces metadata and defaults obj, and reports unknown
// fields and malformed metadata.
func (s *Schema) prepare(obj map[string]any) []string {
	if err := asDecodedByAPIServer(obj); err != nil {
		return []string{err.Error()}
	}
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
	// The apiserver drops nulls the schema does not allow, before
	// defaulting and validation (YAML printed from Go types has them).
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s.structural)
	structuraldefaulting.Default(obj, s.structural)
	return nil
}

// asDecodedByAPIServer turns obj's whole-number floats into int64, in place,
// as the apiserver's JSON decoding does: CEL then types them int, as it does
// online. sigs.k8s.io/yaml and encoding/json decode every number as float64,
// which CEL rules comparing integer fields would reject.
func asDecodedByAPIServer(obj map[string]any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var decoded map[string]any
	if err := utiljson.Unmarshal(data, &decoded); err != nil {
		return err
	}
	clear(obj)
	maps.Copy(obj, decoded)
	return nil
}

// sortedMessages prints errs sorted: the schema validator reports in map
// order, and the same input should always print the same errors.
func sortedMessages(errs field.ErrorList) []string {
	var problems []string
	for _, e := range errs {
		problems = append(problems, e.Error())
	}
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
		return append(errs, celSkipped())
	}
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// ValidateUpdate validates a pruned and defaulted obj that replaces old as
// the apiserver's custom resource strategy does on update: as Validate, with
// the CEL rules that read oldSelf, and with ratcheting (errors in values the
// update left unchanged are dropped), which the apiserver enables by default.
// Unlike the apiserver, it does not check that immutable metadata (name,
// namespace, uid) kept its value.
func (s *Schema) ValidateUpdate(obj, old map[string]any) field.ErrorList {
	correlated := common.NewCorrelatedObject(obj, old, &model.Structural{Structural: s.structural})
	var errs field.ErrorList
	errs = append(errs, objectMetaErrors(obj)...)
	errs = append(errs, apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, s.validator, apiservervalidation.WithRatcheting(correlated))...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, obj, s.structural, false)...)
	if oldErrs := structurallisttype.ValidateListSetsAndMaps(nil, s.structural, old); len(oldErrs) == 0 {
		errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	}
	if blocksCEL(errs) {
		return append(errs, celSkipped())
	}
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, old, celconfig.RuntimeCELCostBudget, cel.WithRatcheting(correlated))
	return append(errs, celErrs...)
}

// celSkipped is the apiserver's error when blocksCEL holds.
func celSkipped() *field.Error {
	return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
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
	// The whole metadata a user writes, as the apiserver validates it:
	// labels (syntax), annotations (total size), not just the name.
	accessor := &metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace(), Labels: u.GetLabels(), Annotations: u.GetAnnotations()}
	if accessor.Namespace == "" {
		accessor.Namespace = "default"
	}
	return apimachineryvalidation.ValidateObjectMeta(accessor, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}
