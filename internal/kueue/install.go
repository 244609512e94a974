package kueue

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/outofcluster"
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
func (k *Kueue) install(ctx context.Context) error {
	in := k.installer()
	webhookURL, certs := k.serving.WebhookURL(), k.serving.Certs
	caBundle := certs.CABundle()

	crds, err := k.crds(webhookURL, caBundle)
	if err != nil {
		return err
	}
	if err := in.InstallCRDs(ctx, crds); err != nil {
		return err
	}

	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": Namespace},
	}}
	// The rotator reads this Secret and keeps its certificates because they
	// are valid (see newServing); a real install creates it empty.
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": webhookSecretName, "namespace": Namespace},
		"data": map[string]any{
			"ca.crt":  base64.StdEncoding.EncodeToString(certs.CACert),
			"ca.key":  base64.StdEncoding.EncodeToString(certs.CAKey),
			"tls.crt": base64.StdEncoding.EncodeToString(certs.Cert),
			"tls.key": base64.StdEncoding.EncodeToString(certs.Key),
		},
	}}
	if err := in.Apply(ctx, ns, secret); err != nil {
		return err
	}

	webhooks, err := k.webhookConfigurations(webhookURL, caBundle)
	if err != nil {
		return err
	}
	k.webhookConfigs, err = in.ApplyWebhooks(ctx, webhooks)
	return err
}

func (k *Kueue) installer() outofcluster.Installer {
	return outofcluster.Installer{Client: k.Client, Owner: fieldOwner}
}

// apply applies objs (server-side, as fieldOwner) in order.
func apply(ctx context.Context, c client.Client, objs ...*unstructured.Unstructured) error {
	return outofcluster.Installer{Client: c, Owner: fieldOwner}.Apply(ctx, objs...)
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
		docs, err := outofcluster.ReadYAML(p)
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

	crds, err := outofcluster.ReadCRDs(filepath.Join(k.moduleDir, crdDir))
	if err != nil {
		return nil, err
	}
	for _, crd := range crds {
		if converted[crd.GetName()] {
			if err := outofcluster.SetConversionWebhook(crd, webhookURL, caBundle); err != nil {
				return nil, err
			}
		}
	}
	return crds, nil
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
	docs, err := outofcluster.ReadYAML(filepath.Join(k.moduleDir, webhookManifest))
	if err != nil {
		return nil, err
	}
	groups := map[string]bool{"kueue.x-k8s.io": true}
	for _, f := range k.opts.Frameworks {
		groups[frameworkGroup(f)] = true
	}
	// namePrefix: the names Kueue's rotator injects its CA into.
	keep := func(hook map[string]any) bool { return ruleGroupsIn(hook, groups) }
	if err := outofcluster.PointWebhooks(docs, webhookURL, caBundle, namePrefix, keep); err != nil {
		return nil, fmt.Errorf("%s: %w", webhookManifest, err)
	}
	return docs, nil
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
	err := k.installer().RemoveAll(ctx, k.webhookConfigs)
	k.webhookConfigs = nil
	return err
}
