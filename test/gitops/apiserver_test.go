package gitops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
	"example.com/sequentialjob/test/testenv"
)

// The apiserver is shared by this package's envtest tests and started by
// the first one that needs it, so the unit tests here need no binaries.
var (
	apiserverOnce sync.Once
	apiserver     *testenv.Env
	apiserverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if apiserver != nil {
		apiserver.Stop()
	}
	if kubeconfigPath != "" {
		_ = os.RemoveAll(filepath.Dir(kubeconfigPath))
	}
	os.Exit(code)
}

func sharedAPIServer(t *testing.T) *testenv.Env {
	t.Helper()
	if _, err := os.Stat(filepath.Join(testenv.BinDir(), "kube-apiserver")); err != nil {
		t.Fatalf("kube-apiserver not found in %s: run `make bin` (make test does it for you)", testenv.BinDir())
	}
	apiserverOnce.Do(func() { apiserver, apiserverErr = testenv.New() })
	require.NoError(t, apiserverErr, "starting envtest")
	return apiserver
}

// newNamespace creates a namespace of its own for one test.
func newNamespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gitops-"}}
	require.NoError(t, c.Create(context.Background(), ns))
	return ns.Name
}

// examples are the SequentialJobs users apply as they are.
func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func loadExample(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	u := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal(data, &u.Object))
	require.Equal(t, "SequentialJob", u.GetKind(), "%s", path)
	return u
}

// appliers apply a file's object the way GitOps tools do.
var appliers = map[string]func(t *testing.T, env *testenv.Env, namespace, path string, obj *unstructured.Unstructured) error{
	// Argo CD with the ServerSideApply=true sync option: server-side apply
	// with its field manager, without forcing conflicts.
	"argocd-controller": func(t *testing.T, env *testenv.Env, namespace, _ string, obj *unstructured.Unstructured) error {
		obj = obj.DeepCopy()
		obj.SetNamespace(namespace)
		return env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("argocd-controller"))
	},
	// Flux's kustomize-controller applies server-side with its own manager
	// and forces ownership.
	"kustomize-controller": func(t *testing.T, env *testenv.Env, namespace, _ string, obj *unstructured.Unstructured) error {
		obj = obj.DeepCopy()
		obj.SetNamespace(namespace)
		return env.Client.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("kustomize-controller"), client.ForceOwnership)
	},
	// A person: kubectl apply --server-side, the file as it is.
	"kubectl": func(t *testing.T, env *testenv.Env, namespace, path string, _ *unstructured.Unstructured) error {
		out, err := kubectl(t, env, "apply", "--server-side", "-n", namespace, "-f", path)
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	},
}

// TestServerSideApplyTwiceChangesNothing: applying an example a second time,
// as Argo CD, Flux or kubectl do on every sync, leaves the object as it was:
// same resourceVersion, same managedFields, nothing dropped or defaulted
// differently. Otherwise a GitOps tool would show a perpetual diff.
func TestServerSideApplyTwiceChangesNothing(t *testing.T) {
	env := sharedAPIServer(t)
	for _, path := range examples(t) {
		for manager, apply := range appliers {
			t.Run(filepath.Base(path)+"/"+manager, func(t *testing.T) {
				if manager == "kubectl" {
					requireKubectl(t)
				}
				obj := loadExample(t, path)
				ns := newNamespace(t, env.Client)

				require.NoError(t, apply(t, env, ns, path, obj), "first apply")
				assertNothingDropped(t, obj, getLive(t, env, ns, obj.GetName()))

				// The controller writes the status (its own manager, the
				// status subresource) as soon as the object exists. Until it
				// does, the status default ({observedGeneration: 0}, which
				// keeps kstatus at InProgress) is only applied on read, and
				// the first write of any kind persists it once.
				writeRenderedStatus(t, env, getLive(t, env, ns, obj.GetName()))
				afterStatus := getLive(t, env, ns, obj.GetName())

				require.NoError(t, apply(t, env, ns, path, obj), "second apply")
				second := getLive(t, env, ns, obj.GetName())
				assertUnchanged(t, afterStatus, second)
				require.NoError(t, apply(t, env, ns, path, obj), "third apply")
				assertUnchanged(t, second, getLive(t, env, ns, obj.GetName()))
				assert.NotEmpty(t, afterStatus.Object["status"], "a sync must not remove the controller's status")
			})
		}
	}
}

// writeRenderedStatus applies the status render computes for the object, as
// the controller does.
func writeRenderedStatus(t *testing.T, env *testenv.Env, live *unstructured.Unstructured) {
	t.Helper()
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(live), sj))
	got := render.Render(render.Observed{SequentialJob: sj}, time.Now())
	require.True(t, got.StatusChanged(), "render has a status to write")
	require.NoError(t, env.Client.Status().Apply(context.Background(), got.StatusApply(),
		client.FieldOwner("sequentialjob-controller"), client.ForceOwnership))
}

func getLive(t *testing.T, env *testenv.Env, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SequentialJob"))
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, u))
	return u
}

func assertUnchanged(t *testing.T, before, after *unstructured.Unstructured) {
	t.Helper()
	assert.Equal(t, before.GetResourceVersion(), after.GetResourceVersion(), "the second apply wrote the object")
	if diff := cmp.Diff(before.GetManagedFields(), after.GetManagedFields()); diff != "" {
		t.Errorf("managedFields changed on the second apply (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Object, after.Object); diff != "" {
		t.Errorf("the object changed on the second apply (-before +after):\n%s", diff)
	}
}

// assertNothingDropped: every field the file sets is stored as written. A
// field the schema prunes would read back missing, and GitOps tools would
// report the object OutOfSync forever.
func assertNothingDropped(t *testing.T, file, live *unstructured.Unstructured) {
	t.Helper()
	for _, path := range missingFields(file.Object["spec"], live.Object["spec"], "spec") {
		t.Errorf("%s is in the file but not on the apiserver (pruned by the schema?)", path)
	}
}

func missingFields(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range w {
			out = append(out, missingFields(v, g[k], path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, missingFields(w[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if !bytes.Equal(wj, gj) {
			return []string{path}
		}
		return nil
	}
}

// TestKubectlExplain: `kubectl explain` reads the CRD's published schema,
// descriptions included.
func TestKubectlExplain(t *testing.T) {
	requireKubectl(t)
	env := sharedAPIServer(t)
	cases := map[string][]string{
		"sequentialjob.spec":            {"KIND:", "SequentialJob", "containers", "template", "Containers are the steps"},
		"sqj.spec.containers":           {"FIELD: containers", "image"},
		"sqj.spec.stepTemplate":         {"FIELD: stepTemplate", "Container", "container defaults for every step", "envFrom", "securityContext"},
		"sequentialjob.status.progress": {"failedIndex", "failureReason"},
	}
	for resource, wants := range cases {
		t.Run(resource, func(t *testing.T) {
			var out string
			var err error
			// The apiserver publishes a new CRD's OpenAPI a moment after it
			// is established.
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				if out, err = kubectl(t, env, "explain", resource); err == nil {
					break
				}
			}
			require.NoError(t, err, out)
			for _, want := range wants {
				assert.Contains(t, out, want)
			}
		})
	}
}

// TestKstatusOnTheAPIServer: what Flux's kstatus says about a SequentialJob
// as the apiserver returns it, from its creation to its first status.
func TestKstatusOnTheAPIServer(t *testing.T) {
	env := sharedAPIServer(t)
	path := filepath.Join(testenv.Root(), "examples", "seed-example.yaml")
	obj := loadExample(t, path)
	ns := newNamespace(t, env.Client)
	require.NoError(t, appliers["kustomize-controller"](t, env, ns, path, obj))

	t.Run("not yet reconciled", func(t *testing.T) {
		// The CRD defaults status to {observedGeneration: 0}: without it,
		// kstatus reads a status-less object as Current and Flux's wait
		// would pass before the controller's first reconcile.
		res, err := status.Compute(getLive(t, env, ns, obj.GetName()))
		require.NoError(t, err)
		assert.Equal(t, status.InProgressStatus, res.Status, res.Message)
	})

	t.Run("status written", func(t *testing.T) {
		writeRenderedStatus(t, env, getLive(t, env, ns, obj.GetName()))
		res, err := status.Compute(getLive(t, env, ns, obj.GetName()))
		require.NoError(t, err)
		assert.Equal(t, status.InProgressStatus, res.Status, res.Message)
	})
}

func requireKubectl(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(testenv.BinDir(), "kubectl")); err != nil {
		t.Fatalf("kubectl not found in %s: run `make bin` (make test does it for you)", testenv.BinDir())
	}
}

var (
	kubeconfigOnce sync.Once
	kubeconfigPath string
)

// kubectl runs bin/kubectl against the shared apiserver.
func kubectl(t *testing.T, env *testenv.Env, args ...string) (string, error) {
	t.Helper()
	kubeconfigOnce.Do(func() {
		cfg := env.Config
		kc := clientcmdapi.NewConfig()
		kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
		kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
		kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest", Namespace: "default"}
		kc.CurrentContext = "envtest"
		dir, err := os.MkdirTemp("", "gitops-kubeconfig-")
		if err == nil {
			kubeconfigPath = filepath.Join(dir, "kubeconfig")
			err = clientcmd.WriteToFile(*kc, kubeconfigPath)
		}
		if err != nil {
			kubeconfigPath = ""
		}
	})
	require.NotEmpty(t, kubeconfigPath, "writing a kubeconfig for kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(testenv.BinDir(), "kubectl"), append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_INTERACTIVE_DELETE=false")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
