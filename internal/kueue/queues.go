package kueue

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"example.com/sequentialjob/internal/outofcluster"
)

// Kueue's objects are unstructured here: importing Kueue's typed API into
// the main module would pull its k8s.io and controller-runtime versions
// into the module graph (Kueue v0.17.0 pins k8s.io/* v0.35, we use v0.37).

// APIVersion is the Kueue API version the helpers write (its storage version).
const APIVersion = "kueue.x-k8s.io/v1beta2"

// QueueNameLabel puts a Job in a LocalQueue.
const QueueNameLabel = "kueue.x-k8s.io/queue-name"

// MultiKueueControllerName is the AdmissionCheck controller of MultiKueue,
// and the value of a Job's spec.managedBy that hands it to MultiKueue.
const MultiKueueControllerName = "kueue.x-k8s.io/multikueue"

// GVK returns the GroupVersionKind of a Kueue kind.
func GVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "kueue.x-k8s.io", Version: "v1beta2", Kind: kind}
}

// Queue is a ResourceFlavor, a ClusterQueue with a nominal quota in that
// flavor, and a LocalQueue pointing at it.
type Queue struct {
	// Namespace and LocalQueue name the LocalQueue that Jobs name.
	Namespace, LocalQueue string
	// ClusterQueue defaults to LocalQueue.
	ClusterQueue string
	// Flavor defaults to "default-flavor". It has no node labels, so it
	// fits any node.
	Flavor string
	// Quota is the nominal quota of each covered resource ("cpu": "1").
	Quota map[corev1.ResourceName]string
	// AdmissionChecks are required of every workload (e.g. MultiKueue's).
	AdmissionChecks []string
}

// CreateQueue creates (applies) the objects of q and waits until Kueue
// reports the LocalQueue Active, that is, ready to admit.
func CreateQueue(ctx context.Context, c client.Client, q Queue) error {
	if q.ClusterQueue == "" {
		q.ClusterQueue = q.LocalQueue
	}
	if q.Flavor == "" {
		q.Flavor = "default-flavor"
	}
	var covered, quotas []any
	for _, name := range sortedKeys(q.Quota) {
		covered = append(covered, string(name))
		quotas = append(quotas, map[string]any{"name": string(name), "nominalQuota": q.Quota[name]})
	}
	cqSpec := map[string]any{
		// {} admits from every namespace; null (the default) from none.
		"namespaceSelector": map[string]any{},
		"resourceGroups": []any{map[string]any{
			"coveredResources": covered,
			"flavors":          []any{map[string]any{"name": q.Flavor, "resources": quotas}},
		}},
	}
	if len(q.AdmissionChecks) > 0 {
		var rules []any
		for _, ac := range q.AdmissionChecks {
			rules = append(rules, map[string]any{"name": ac})
		}
		cqSpec["admissionChecksStrategy"] = map[string]any{"admissionChecks": rules}
	}
	objs := []*unstructured.Unstructured{
		object("ResourceFlavor", "", q.Flavor, map[string]any{}),
		object("ClusterQueue", "", q.ClusterQueue, cqSpec),
		object("LocalQueue", q.Namespace, q.LocalQueue, map[string]any{"clusterQueue": q.ClusterQueue}),
	}
	if err := apply(ctx, c, objs...); err != nil {
		return err
	}
	return WaitCondition(ctx, c, objs[2], "Active", 2*time.Minute)
}

// ApplyFile applies (server-side) every object of a YAML file, as
// `kubectl apply --server-side -f` does, and returns them.
func ApplyFile(ctx context.Context, c client.Client, path string) ([]*unstructured.Unstructured, error) {
	objs, err := outofcluster.ReadYAML(path)
	if err != nil {
		return nil, err
	}
	if err := apply(ctx, c, objs...); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// MultiKueue connects a manager cluster's Kueue to worker clusters: a
// kubeconfig Secret and a MultiKueueCluster per worker, a MultiKueueConfig
// listing them, and an AdmissionCheck (named Name) of controller
// kueue.x-k8s.io/multikueue that a ClusterQueue then requires.
type MultiKueue struct {
	Name string
	// Workers maps a MultiKueueCluster name to its kubeconfig (with the
	// CA and credentials inline: Kueue rejects file paths).
	Workers map[string][]byte
}

// CreateMultiKueue creates (applies) the objects of m on the manager and
// waits until every MultiKueueCluster is Active (connected) and the
// AdmissionCheck is Active.
func CreateMultiKueue(ctx context.Context, c client.Client, m MultiKueue) error {
	var objs, waitFor []*unstructured.Unstructured
	var clusters []any
	for _, name := range sortedKeys(m.Workers) {
		secret := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name + "-kubeconfig", "namespace": Namespace},
			"stringData": map[string]any{"kubeconfig": string(m.Workers[name])},
		}}
		cluster := object("MultiKueueCluster", "", name, map[string]any{
			"clusterSource": map[string]any{"kubeConfig": map[string]any{"locationType": "Secret", "location": name + "-kubeconfig"}},
		})
		objs = append(objs, secret, cluster)
		waitFor = append(waitFor, cluster)
		clusters = append(clusters, name)
	}
	objs = append(objs, object("MultiKueueConfig", "", m.Name, map[string]any{"clusters": clusters}))
	ac := object("AdmissionCheck", "", m.Name, map[string]any{
		"controllerName": MultiKueueControllerName,
		"parameters":     map[string]any{"apiGroup": "kueue.x-k8s.io", "kind": "MultiKueueConfig", "name": m.Name},
	})
	objs = append(objs, ac)
	waitFor = append(waitFor, ac)
	if err := apply(ctx, c, objs...); err != nil {
		return err
	}
	for _, o := range waitFor {
		if err := WaitCondition(ctx, c, o, "Active", 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// WaitCondition waits until obj's status condition typ is True. The error
// quotes the condition's last reason and message.
func WaitCondition(ctx context.Context, c client.Client, obj *unstructured.Unstructured, typ string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
			last = err.Error()
			return false, nil
		}
		status, reason, msg := Condition(got, typ)
		last = fmt.Sprintf("%s=%s %s: %s", typ, status, reason, msg)
		return status == "True", nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: waiting for %s (last: %s): %w", obj.GetKind(), obj.GetName(), typ, last, err)
	}
	return nil
}

// Condition returns the status, reason and message of obj's condition typ.
func Condition(obj *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, cond := range conds {
		m, _ := cond.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "", "", ""
}

func object(kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(GVK(kind))
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
