//go:build linux

package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// capture writes, for each run of w, what the previous release left at the
// moment it stopped, in the layout of render's golden cases
// (fixtures.LoadRenderCase): sequentialjob.yaml (spec and the status it
// wrote), observed.yaml (the run's Jobs) and pods.yaml (their pods). These
// are the inputs of render's status compatibility tests: real output of
// the pinned version, not written by hand.
func capture(ctx context.Context, c client.Client, w *workload, prev previousRelease, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := captureStatusSchema(prev.CRD(), filepath.Join(dir, "status-schema.yaml")); err != nil {
		return err
	}
	// Unstructured, so that the status is kept as the previous release wrote
	// it, field by field, not as the current types read it.
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SequentialJobList"))
	if err := c.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return err
	}
	runs := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		runs[list.Items[i].GetName()] = &list.Items[i]
	}
	jobs, err := jobsOf(ctx, c, w.ns)
	if err != nil {
		return err
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(w.ns)); err != nil {
		return err
	}
	for _, name := range w.names {
		sj := runs[name]
		if sj == nil {
			return fmt.Errorf("run %s is gone", name)
		}
		caseDir := filepath.Join(dir, name)
		if err := os.MkdirAll(caseDir, 0o755); err != nil {
			return err
		}
		sj.SetManagedFields(nil)
		if err := writeYAML(filepath.Join(caseDir, "sequentialjob.yaml"), sj.Object); err != nil {
			return err
		}
		var docs []any
		owned := map[string]bool{}
		for _, j := range jobs[name] {
			j.APIVersion, j.Kind = "batch/v1", "Job"
			clean(&j.ObjectMeta)
			owned[j.Name] = true
			docs = append(docs, j)
		}
		if err := writeDocs(filepath.Join(caseDir, "observed.yaml"), docs); err != nil {
			return err
		}
		docs = nil
		for _, p := range pods.Items {
			if owned[p.Labels[batchv1.JobNameLabel]] {
				p.APIVersion, p.Kind = "v1", "Pod"
				clean(&p.ObjectMeta)
				docs = append(docs, p)
			}
		}
		if err := writeDocs(filepath.Join(caseDir, "pods.yaml"), docs); err != nil {
			return err
		}
	}
	return nil
}

// captureStatusSchema writes the status schema of the previous release's
// CRD: the fields its status may have, set or not.
func captureStatusSchema(crdPath, out string) error {
	data, err := os.ReadFile(crdPath)
	if err != nil {
		return err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		return fmt.Errorf("%s: %w", crdPath, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == v1alpha1.GroupVersion.Version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			status, ok := v.Schema.OpenAPIV3Schema.Properties["status"]
			if !ok {
				break
			}
			return writeYAML(out, status)
		}
	}
	return fmt.Errorf("%s: no %s status schema", crdPath, v1alpha1.GroupVersion.Version)
}

// clean drops what only the apiserver's bookkeeping needs.
func clean(m *metav1.ObjectMeta) { m.ManagedFields = nil }

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func writeDocs(path string, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	var out []byte
	for _, d := range docs {
		data, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		out = append(append(out, "---\n"...), data...)
	}
	return os.WriteFile(path, out, 0o644)
}
