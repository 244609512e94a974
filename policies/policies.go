// Package policies holds the ValidatingAdmissionPolicies that ship with the
// operator (the YAML files beside this one), their bindings and parameters.
//
// The files listed in kustomization.yaml are what config/policies installs and
// what the tests load: see package policytest for the harness that evaluates
// them offline with the apiserver's own admission plugin, and online_test.go
// for the same cases against a real kube-apiserver.
package policies

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

//go:embed *.yaml
var manifests embed.FS

// Set is everything the policies directory installs.
type Set struct {
	Policies   []*admissionregistrationv1.ValidatingAdmissionPolicy
	Bindings   []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	ConfigMaps []*corev1.ConfigMap
	// Objects are all of the above, in file order, as they are applied.
	Objects []*unstructured.Unstructured
}

// Policy returns the policy with this name, or nil.
func (s *Set) Policy(name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	for _, p := range s.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Load parses the files kustomization.yaml lists, in its order.
func Load() (*Set, error) {
	raw, err := manifests.ReadFile("kustomization.yaml")
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	set := &Set{}
	for _, file := range k.Resources {
		data, err := manifests.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("kustomization.yaml lists %s: %w", file, err)
		}
		if err := set.add(file, data); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (s *Set) add(file string, data []byte) error {
	reader := utilyaml.NewYAMLReader(bufioReader(data))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		s.Objects = append(s.Objects, obj)
		var target any
		switch obj.GetKind() {
		case "ValidatingAdmissionPolicy":
			p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
			s.Policies, target = append(s.Policies, p), p
		case "ValidatingAdmissionPolicyBinding":
			b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			s.Bindings, target = append(s.Bindings, b), b
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			s.ConfigMaps, target = append(s.ConfigMaps, c), c
		default:
			return fmt.Errorf("%s: unexpected kind %q", file, obj.GetKind())
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			return fmt.Errorf("%s: %s %s: %w", file, obj.GetKind(), obj.GetName(), err)
		}
	}
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
