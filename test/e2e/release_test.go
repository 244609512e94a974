package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestReleaseManifestsApply renders the release manifests with the
// Makefile's own target (as `make release` does once the image is built)
// and applies dist/install.yaml, then dist/policies.yaml, with server-side
// apply, as the README tells users to: the apiserver accepts every object,
// with no warning. The policies are applied as a server-side dry run (the
// apiserver still validates and type-checks them): in force, they would
// judge the other tests' SequentialJobs. The controller's pod, from the Deployment's template,
// passes the Pod Security "restricted" level its namespace enforces (the
// local cluster has no Deployment controller: the test asks for the pod
// itself, as a dry run).
func TestReleaseManifestsApply(t *testing.T) {
	t.Parallel()
	const (
		image  = "registry.example.com/sequentialjob/sequentialjob-controller"
		digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	dist := t.TempDir()
	makeCmd := exec.Command("make", "-s", "release-manifests", "DIST="+dist, "IMAGE="+image, "IMAGE_DIGEST="+digest, "VERSION=1.2.3")
	makeCmd.Dir = repoRoot()
	// Run from `make test`, the test must not talk to that make's jobserver.
	makeCmd.Env = withoutMakeVars(os.Environ())
	out, err := makeCmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	for file, dryRun := range map[string]string{"install.yaml": "none", "policies.yaml": "server"} {
		path := filepath.Join(dist, file)
		objects := decodeObjects(t, path)
		applied := kubectl(t, "apply", "--server-side", "--dry-run="+dryRun, "-f", path)
		assert.NotContains(t, applied, "Warning", "%s: kubectl warned", file)
		var crds []string
		for _, o := range objects {
			assert.Contains(t, applied, strings.ToLower(o.GetName())+" serverside-applied", "%s: %s %s", file, o.GetKind(), o.GetName())
			if o.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, o.GetName())
			}
		}
		if file == "install.yaml" {
			assert.ElementsMatch(t, []string{"sequentialjobs.batch.example.com", "sequentialcronjobs.batch.example.com"}, crds, "the release installs both kinds")
		}
	}

	ctx := context.Background()
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: systemNamespace}, ns))
	require.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	deploy := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: "sequentialjob-controller"}, deploy))
	require.Equal(t, image+"@"+digest, deploy.Spec.Template.Spec.Containers[0].Image, "the Deployment is pinned to the image digest")
	require.Equal(t, int32(2), *deploy.Spec.Replicas)
	require.Contains(t, deploy.Spec.Template.Spec.Containers[0].Args, "--leader-elect")

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, GenerateName: "controller-"}, Spec: deploy.Spec.Template.Spec}
	require.NoError(t, k8s.Create(ctx, pod, client.DryRunAll), "the controller's pod under Pod Security restricted")
	// The control: a pod that asks for root is refused in that namespace,
	// so the acceptance above means something.
	root := pod.DeepCopy()
	root.Spec.SecurityContext = nil
	root.Spec.Containers[0].SecurityContext = nil
	err = k8s.Create(ctx, root, client.DryRunAll)
	require.Error(t, err, "a pod without the restricted settings must be refused")
	require.Contains(t, err.Error(), `violates PodSecurity "restricted:latest"`)
}

// decodeObjects reads every object of a multi-document YAML file.
func decodeObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		o := &unstructured.Unstructured{}
		err := dec.Decode(&o.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, path)
		if len(o.Object) > 0 {
			out = append(out, o)
		}
	}
	require.NotEmpty(t, out, path)
	return out
}

func withoutMakeVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
