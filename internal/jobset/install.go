package jobset

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/outofcluster"
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
func (j *JobSet) install(ctx context.Context) error {
	in := j.installer()
	webhookURL, caBundle := j.serving.WebhookURL(), j.serving.Certs.CABundle()

	crds, err := outofcluster.ReadCRDs(filepath.Join(j.moduleDir, crdDir))
	if err != nil {
		return err
	}
	// Every CRD gets the conversion webhook that JobSet's kustomization
	// patches in (crd/patches/webhook_in_jobsets.yaml).
	for _, crd := range crds {
		if err := outofcluster.SetConversionWebhook(crd, webhookURL, caBundle); err != nil {
			return err
		}
	}
	if err := in.InstallCRDs(ctx, crds); err != nil {
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
	// All webhooks are kept, the Pod webhooks too, as in a real install:
	// each pod created while JobSet runs is admitted by it (Stop removes
	// them).
	webhooks, err := outofcluster.ReadYAML(filepath.Join(j.moduleDir, webhookManifest))
	if err != nil {
		return err
	}
	if err := outofcluster.PointWebhooks(webhooks, webhookURL, caBundle, namePrefix, nil); err != nil {
		return fmt.Errorf("%s: %w", webhookManifest, err)
	}
	j.webhookConfigs, err = in.ApplyWebhooks(ctx, webhooks)
	return err
}

func (j *JobSet) installer() outofcluster.Installer {
	return outofcluster.Installer{Client: j.client, Owner: fieldOwner}
}

// installRBAC applies JobSet's ClusterRole and binds it to Options.User.
// The Role and ClusterRoles JobSet also ships are for leader election, its
// certificate Secret and metrics: all off here.
func (j *JobSet) installRBAC(ctx context.Context) error {
	docs, err := outofcluster.ReadYAML(filepath.Join(j.moduleDir, roleManifest))
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
	return j.installer().Apply(ctx, role, binding)
}

// uninstallWebhooks removes the webhook configurations, so that a cluster
// that outlives JobSet can still create pods and JobSets (they fail closed).
func (j *JobSet) uninstallWebhooks(ctx context.Context) error {
	err := j.installer().RemoveAll(ctx, j.webhookConfigs)
	j.webhookConfigs = nil
	return err
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
