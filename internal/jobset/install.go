package jobset

import (
	"bytes"
	"context"
	"encoding/base64"
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

// What JobSet's own manifests install, read from the JobSet module's source
// (the same version bin/jobset was built from; see ModuleDir).
const (
	crdDir          = "config/components/crd/bases"
	webhookManifest = "config/components/webhook/manifests.yaml"
	roleManifest    = "config/components/rbac/role.yaml"
)

// namePrefix is config/default's namePrefix: the names a real install gives
// the webhook configurations and the ClusterRole.
const namePrefix = "jobset-"

const fieldOwner = client.FieldOwner("jobset-runner")

// install applies JobSet's CRD, its webhook configurations pointing at
// https://127.0.0.1:<port>, and, with Options.User, its ClusterRole bound to
// that user.
func (j *JobSet) install(ctx context.Context, caCert []byte) error {
	webhookURL := fmt.Sprintf("https://127.0.0.1:%d", j.webhookPort)
	caBundle := base64.StdEncoding.EncodeToString(caCert)

	crds, err := j.crds(webhookURL, caBundle)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		if err := apply(ctx, j.client, crd); err != nil {
			return fmt.Errorf("installing CRD %s: %w", crd.GetName(), err)
		}
	}
	if err := waitEstablished(ctx, j.client, crds); err != nil {
		return err
	}
	if j.opts.User != "" {
		if err := j.installRBAC(ctx); err != nil {
			return err
		}
	}
	if err := waitOwnerReferencesAdmitted(ctx, j.userClient); err != nil {
		return err
	}
	webhooks, err := j.webhookConfigurations(webhookURL, caBundle)
	if err != nil {
		return err
	}
	for _, wh := range webhooks {
		if err := apply(ctx, j.client, wh); err != nil {
			return fmt.Errorf("applying %s: %w", wh.GetName(), err)
		}
		j.webhookConfigs = append(j.webhookConfigs, wh)
	}
	return nil
}

// crds reads JobSet's CRDs with the conversion webhook that JobSet's
// kustomization patches in (crd/patches/webhook_in_jobsets.yaml), with a
// url instead of a Service.
func (j *JobSet) crds(webhookURL, caBundle string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(j.moduleDir, crdDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		docs, err := readYAML(f)
		if err != nil {
			return nil, err
		}
		for _, crd := range docs {
			if crd.GetKind() != "CustomResourceDefinition" {
				continue
			}
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
			out = append(out, crd)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", filepath.Join(j.moduleDir, crdDir))
	}
	return out, nil
}

// webhookConfigurations reads JobSet's webhook manifests and points every
// webhook at the local server. All of them are kept, the Pod webhooks too,
// as in a real install: each pod created while JobSet runs is admitted by
// it (Stop removes them).
func (j *JobSet) webhookConfigurations(webhookURL, caBundle string) ([]*unstructured.Unstructured, error) {
	docs, err := readYAML(filepath.Join(j.moduleDir, webhookManifest))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		hooks, _, err := unstructured.NestedSlice(doc.Object, "webhooks")
		if err != nil {
			return nil, err
		}
		for _, h := range hooks {
			hook := h.(map[string]any)
			path, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "path")
			hook["clientConfig"] = map[string]any{"url": webhookURL + path, "caBundle": caBundle}
		}
		if err := unstructured.SetNestedSlice(doc.Object, hooks, "webhooks"); err != nil {
			return nil, err
		}
		doc.SetName(namePrefix + doc.GetName())
		out = append(out, doc)
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("%s: want a mutating and a validating webhook configuration, got %d documents", webhookManifest, len(out))
	}
	return out, nil
}

// installRBAC applies JobSet's ClusterRole and binds it to Options.User.
// The Role and ClusterRoles JobSet also ships are for leader election, its
// certificate Secret and metrics: all off here.
func (j *JobSet) installRBAC(ctx context.Context) error {
	docs, err := readYAML(filepath.Join(j.moduleDir, roleManifest))
	if err != nil {
		return err
	}
	if len(docs) != 1 || docs[0].GetKind() != "ClusterRole" {
		return fmt.Errorf("%s: want one ClusterRole, got %d documents", roleManifest, len(docs))
	}
	role := docs[0]
	role.SetName(namePrefix + role.GetName())
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": role.GetName() + "-" + j.opts.User},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.GetName()},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": j.opts.User}},
	}}
	for _, obj := range []*unstructured.Unstructured{role, binding} {
		if err := apply(ctx, j.client, obj); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// uninstallWebhooks removes the webhook configurations, so that a cluster
// that outlives JobSet can still create pods and JobSets (they fail closed).
func (j *JobSet) uninstallWebhooks(ctx context.Context) error {
	var errs []error
	for _, wh := range j.webhookConfigs {
		if err := j.client.Delete(ctx, wh); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	j.webhookConfigs = nil
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

// waitOwnerReferencesAdmitted waits until the apiserver admits, from
// JobSet's own user (c), an object owned by a JobSet with
// blockOwnerDeletion, as JobSet's Services and Jobs are. The admission
// plugin OwnerReferencesPermissionEnforcement (which hardened clusters and
// the local cluster turn on) maps the owner's kind through a discovery
// cache that kube-apiserver refreshes only now and then; until it has
// JobSet's new CRD it rejects them ("cannot find RESTMapping"), and JobSet
// retries with backoff: seen here for 10 to 20 seconds. A real cluster
// installs the CRD long before its first JobSet; here the first JobSets
// would pay for it. The plugin skips the check for a user who may finalize
// anything (an admin), hence JobSet's user. The probe is a server-side
// dry-run of a Service, which JobSet's ClusterRole may create: it runs
// admission and stores nothing.
func waitOwnerReferencesAdmitted(ctx context.Context, c client.Client) error {
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{
			"name": "jobset-owner-probe", "namespace": metav1.NamespaceDefault,
			"ownerReferences": []any{map[string]any{
				"apiVersion": "jobset.x-k8s.io/v1alpha2", "kind": "JobSet", "name": "probe",
				"uid": "00000000-0000-0000-0000-000000000000", "blockOwnerDeletion": true, "controller": true,
			}},
		},
		"spec": map[string]any{"clusterIP": "None", "selector": map[string]any{"probe": "probe"}},
	}}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the apiserver does not admit JobSet's objects owned by a JobSet: %v (%w)", last, err)
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
