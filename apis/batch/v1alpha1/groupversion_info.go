// Package v1alpha1 holds the SequentialJob API, group batch.example.com.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=batch.example.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "batch.example.com", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// SchemeGroupVersion is GroupVersion under the name the generated
	// applyconfigurations expect.
	SchemeGroupVersion = GroupVersion
)

func init() {
	SchemeBuilder.Register(&SequentialJob{}, &SequentialJobList{})
}
