// Package v1alpha1 holds the SequentialJob API, group batch.example.com.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=batch.example.com
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "batch.example.com", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a
	// runtime.Scheme. It is apimachinery's, not controller-runtime's
	// (deprecated) scheme.Builder, so that importing the API does not
	// import controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// SchemeGroupVersion is GroupVersion under the name the generated
	// applyconfigurations expect.
	SchemeGroupVersion = GroupVersion
)

// addKnownTypes registers SequentialJob and SequentialJobList, and the
// meta/v1 types (ListOptions, ...) for GroupVersion, as
// controller-runtime's scheme.Builder did.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SequentialJob{}, &SequentialJobList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
