package outofcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Installer applies a manager's objects with server-side apply, as Owner.
type Installer struct {
	Client client.Client
	Owner  client.FieldOwner
}

// Apply applies objs in order.
func (in Installer) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := in.apply(ctx, obj); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func (in Installer) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	return in.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), in.Owner, client.ForceOwnership)
}

// InstallCRDs applies crds and waits until they are established.
func (in Installer) InstallCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		if err := in.apply(ctx, crd); err != nil {
			return fmt.Errorf("installing CRD %s: %w", crd.GetName(), err)
		}
	}
	return waitEstablished(ctx, in.Client, crds)
}

// ApplyWebhooks applies webhook configurations and returns those it
// applied, on error too, for RemoveAll.
func (in Installer) ApplyWebhooks(ctx context.Context, webhooks []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var applied []*unstructured.Unstructured
	for _, wh := range webhooks {
		if err := in.apply(ctx, wh); err != nil {
			return applied, fmt.Errorf("applying %s: %w", wh.GetName(), err)
		}
		applied = append(applied, wh)
	}
	return applied, nil
}

// RemoveAll deletes objs, those already gone aside.
func (in Installer) RemoveAll(ctx context.Context, objs []*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		if err := in.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func waitEstablished(ctx context.Context, c client.Client, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(crd.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), got); err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, cond := range conds {
				m := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == string(metav1.ConditionTrue) {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", crd.GetName(), err)
		}
	}
	return nil
}

// SetConversionWebhook turns on crd's conversion webhook at
// webhookURL/convert, with a url instead of the Service a kustomization
// patches in.
func SetConversionWebhook(crd *unstructured.Unstructured, webhookURL, caBundle string) error {
	conversion := map[string]any{
		"strategy": "Webhook",
		"webhook": map[string]any{
			"clientConfig":             map[string]any{"url": webhookURL + "/convert", "caBundle": caBundle},
			"conversionReviewVersions": []any{"v1"},
		},
	}
	return unstructured.SetNestedMap(crd.Object, conversion, "spec", "conversion")
}

// PointWebhooks points the webhooks of configs (a manifest's mutating and
// validating webhook configuration) at webhookURL + their Service's path,
// keeps only those keep accepts (all with a nil keep), and prefixes the
// configurations' names with namePrefix (config/default's namePrefix: the
// names of a real install).
func PointWebhooks(configs []*unstructured.Unstructured, webhookURL, caBundle, namePrefix string, keep func(hook map[string]any) bool) error {
	for _, doc := range configs {
		hooks, _, err := unstructured.NestedSlice(doc.Object, "webhooks")
		if err != nil {
			return err
		}
		var kept []any
		for _, h := range hooks {
			hook := h.(map[string]any)
			if keep != nil && !keep(hook) {
				continue
			}
			path, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
			hook["clientConfig"] = map[string]any{"url": webhookURL + path, "caBundle": caBundle}
			kept = append(kept, hook)
		}
		if err := unstructured.SetNestedSlice(doc.Object, kept, "webhooks"); err != nil {
			return err
		}
		doc.SetName(namePrefix + doc.GetName())
	}
	if len(configs) != 2 {
		return fmt.Errorf("want a mutating and a validating webhook configuration, got %d documents", len(configs))
	}
	return nil
}

// ReadCRDs reads the CustomResourceDefinitions of the *.yaml files in dir;
// none is an error.
func ReadCRDs(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		docs, err := ReadYAML(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range docs {
			if doc.GetKind() == "CustomResourceDefinition" {
				out = append(out, doc)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	return out, nil
}

// ReadYAML reads the objects of a multi-document YAML file.
func ReadYAML(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}
