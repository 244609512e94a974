package kueue

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// What Kueue's own manifests install, read from the Kueue module's source
// (the same version bin/kueue was built from; see ModuleDir).
const (
	crdDir          = "config/components/crd/bases"
	crdPatchDir     = "config/components/crd/patches"
	webhookManifest = "config/components/webhook/manifests.yaml"
)

// Names Kueue's internal certificate management expects (apis/config
// defaults, and config/default's namePrefix "kueue-").
const (
	Namespace          = "kueue-system"
	webhookServiceName = "kueue-webhook-service"
	webhookSecretName  = "kueue-webhook-server-cert"
	namePrefix         = "kueue-"
)

const fieldOwner = client.FieldOwner("kueuetest")

// install applies Kueue's CRDs, namespace, certificate Secret and webhook
// configurations, all pointing at the webhook server on
// https://127.0.0.1:<port>.
func (k *Kueue) install(ctx context.Context, certs *servingCerts) error {
	webhookURL := fmt.Sprintf("https://127.0.0.1:%d", k.webhookPort)
	caBundle := base64.StdEncoding.EncodeToString(certs.caCert)

	crds, err := k.crds(webhookURL, caBundle)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := apply(ctx, k.Client, crd); err != nil {
			return fmt.Errorf("installing CRD %s: %w", crd.GetName(), err)
		}
	}
	if err := waitEstablished(ctx, k.Client, crds); err != nil {
		return err
	}

	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": Namespace},
	}}
	// The rotator reads this Secret and keeps its certificates because they
	// are valid (see newServingCerts); a real install creates it empty.
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": webhookSecretName, "namespace": Namespace},
		"data": map[string]any{
			"ca.crt":  base64.StdEncoding.EncodeToString(certs.caCert),
			"ca.key":  base64.StdEncoding.EncodeToString(certs.caKey),
			"tls.crt": base64.StdEncoding.EncodeToString(certs.cert),
			"tls.key": base64.StdEncoding.EncodeToString(certs.key),
		},
	}}
	for _, obj := range []*unstructured.Unstructured{ns, secret} {
		if err := apply(ctx, k.Client, obj); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}

	webhooks, err := k.webhookConfigurations(webhookURL, caBundle)
	if err != nil {
		return err
	}
	for _, wh := range webhooks {
		if err := apply(ctx, k.Client, wh); err != nil {
			return fmt.Errorf("applying %s: %w", wh.GetName(), err)
		}
		k.webhookConfigs = append(k.webhookConfigs, wh)
	}
	return nil
}

// crds reads Kueue's CRDs and turns on the conversion webhook of those that
// Kueue's kustomization patches (webhook_in_<plural>.yaml), with a url
// instead of a Service. Kueue's certificate rotator requires it: it injects
// its CA into these CRDs' conversion webhooks, and Kueue never becomes
// ready if one of them has none.
func (k *Kueue) crds(webhookURL, caBundle string) ([]*unstructured.Unstructured, error) {
	patches, err := filepath.Glob(filepath.Join(k.moduleDir, crdPatchDir, "webhook_in_*.yaml"))
	if err != nil {
		return nil, err
	}
	converted := map[string]bool{}
	for _, p := range patches {
		docs, err := readYAML(p)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			converted[d.GetName()] = true
		}
	}
	if len(converted) == 0 {
		return nil, fmt.Errorf("no conversion patches in %s: has Kueue's layout changed?", filepath.Join(k.moduleDir, crdPatchDir))
	}

	files, err := filepath.Glob(filepath.Join(k.moduleDir, crdDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", filepath.Join(k.moduleDir, crdDir))
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		docs, err := readYAML(f)
		if err != nil {
			return nil, err
		}
		for _, crd := range docs {
			if converted[crd.GetName()] {
				conversion := map[string]any{
					"strategy": "Webhook",
					"webhook": map[string]any{
						"clientConfig":             map[string]any{"url": webhookURL + "/convert", "caBundle": caBundle},
						"conversionReviewVersions": []any{"v1"},
					},
				}
				if err := unstructured.SetNestedMap(crd.Object, conversion, "spec", "conversion"); err != nil {
					return nil, err
				}
			}
			out = append(out, crd)
		}
	}
	return out, nil
}

// webhookConfigurations reads Kueue's webhook manifests and points every
// webhook at the local server.
//
// It keeps only the webhooks of Kueue's own API group and of the enabled
// integrations' API groups: the manifests hold every integration's webhook
// (Pods, Deployments, Ray, Kubeflow...), and a Pod webhook with
// failurePolicy Fail would put every pod of the cluster behind this test
// process. Kueue answers the webhooks of disabled integrations with a no-op,
// so leaving them out changes nothing else.
func (k *Kueue) webhookConfigurations(webhookURL, caBundle string) ([]*unstructured.Unstructured, error) {
	docs, err := readYAML(filepath.Join(k.moduleDir, webhookManifest))
	if err != nil {
		return nil, err
	}
	groups := map[string]bool{"kueue.x-k8s.io": true}
	for _, f := range k.opts.Frameworks {
		groups[frameworkGroup(f)] = true
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		hooks, _, err := unstructured.NestedSlice(doc.Object, "webhooks")
		if err != nil {
			return nil, err
		}
		var kept []any
		for _, h := range hooks {
			hook := h.(map[string]any)
			if !ruleGroupsIn(hook, groups) {
				continue
			}
			path, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
			hook["clientConfig"] = map[string]any{"url": webhookURL + path, "caBundle": caBundle}
			kept = append(kept, hook)
		}
		if err := unstructured.SetNestedSlice(doc.Object, kept, "webhooks"); err != nil {
			return nil, err
		}
		// The names Kueue's rotator injects its CA into.
		doc.SetName(namePrefix + doc.GetName())
		out = append(out, doc)
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("%s: want a mutating and a validating webhook configuration, got %d documents", webhookManifest, len(out))
	}
	return out, nil
}

// frameworkGroup is the API group of a Kueue integration name
// ("batch/job", "jobset.x-k8s.io/jobset", "pod", "deployment").
func frameworkGroup(framework string) string {
	if g, _, ok := strings.Cut(framework, "/"); ok {
		return g
	}
	switch framework {
	case "deployment", "statefulset":
		return "apps"
	}
	return "" // pod
}

func ruleGroupsIn(hook map[string]any, groups map[string]bool) bool {
	rules, _, _ := unstructured.NestedSlice(hook, "rules")
	for _, r := range rules {
		gs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "apiGroups")
		if slices.ContainsFunc(gs, func(g string) bool { return groups[g] }) {
			return true
		}
	}
	return false
}

// uninstallWebhooks removes the webhook configurations, so that a cluster
// that outlives Kueue can still create Jobs (they fail closed).
func (k *Kueue) uninstallWebhooks(ctx context.Context) error {
	var errs []error
	for _, wh := range k.webhookConfigs {
		if err := k.Client.Delete(ctx, wh); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	k.webhookConfigs = nil
	return errors.Join(errs...)
}

func apply(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), fieldOwner, client.ForceOwnership)
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

// readYAML reads the objects of a multi-document YAML file.
func readYAML(path string) ([]*unstructured.Unstructured, error) {
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
