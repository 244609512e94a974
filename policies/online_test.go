package policies_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"example.com/sequentialjob/policies/policytest"
	"example.com/sequentialjob/test/testenv"
)

// cluster is a real kube-apiserver (envtest: RBAC authorization, the
// ValidatingAdmissionPolicy plugin on by default) with the CRD and the
// shipped policies installed.
type cluster struct {
	cfg  *rest.Config
	kube kubernetes.Interface
	dyn  dynamic.Interface
	ev   *policytest.Evaluator
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the online tests start kube-apiserver and etcd from bin/")
	}
	env := testenv.Start(t)
	ev, err := policytest.NewEvaluator()
	require.NoError(t, err)
	c := &cluster{cfg: env.Config, ev: ev}
	c.kube = kubernetes.NewForConfigOrDie(env.Config)
	c.dyn = dynamic.NewForConfigOrDie(env.Config)
	ctx := t.Context()

	// Install what config/policies installs, in file order.
	_, err = c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sequentialjob-system"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, p := range ev.Set.Policies {
		_, err := c.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err, p.Name)
	}
	for _, b := range ev.Set.Bindings {
		_, err := c.kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{})
		require.NoError(t, err, b.Name)
	}
	for _, cm := range ev.Set.ConfigMaps {
		_, err := c.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(t, err, cm.Name)
	}

	// Bindings take effect asynchronously: wait until a user without any
	// permission is turned away by the anti-escalation policy.
	probe := &policytest.Case{
		User: "policy-probe", Operation: "CREATE", Namespace: &policytest.Namespace{Name: "sequentialjob-system"},
		Object: map[string]any{"metadata": map[string]any{"name": "probe"}, "spec": map[string]any{
			"containers": []any{map[string]any{"name": "a", "image": "busybox"}}}},
	}
	c.grant(t, probe, nil)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		res, err := c.request(ctx, probe)
		if err != nil {
			return false, err
		}
		return res.Decision == policytest.Deny && strings.Contains(res.Message, "sequentialjob-anti-escalation"), nil
	}), "the anti-escalation binding never took effect")
	return c
}

// grant gives the case's user the case's permissions in its namespace, as a
// Role and RoleBinding (replacing the previous case's), plus what reaching
// admission needs: create and update SequentialJobs. It returns once the
// apiserver's authorizer agrees with the offline RuleAuthorizer.
func (c *cluster) grant(t *testing.T, tc *policytest.Case, rules []rbacv1.PolicyRule) {
	t.Helper()
	ctx := t.Context()
	ns := tc.NamespaceName()
	rbac := c.kube.RbacV1()
	_ = rbac.RoleBindings(ns).Delete(ctx, "policytest", metav1.DeleteOptions{})
	_ = rbac.Roles(ns).Delete(ctx, "policytest", metav1.DeleteOptions{})
	all := append(slices.Clone(rules), rbacv1.PolicyRule{
		Verbs: []string{"create", "update", "get"}, APIGroups: []string{"batch.example.com"}, Resources: []string{"sequentialjobs"},
	})
	_, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "policytest"}, Rules: all}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "policytest"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "policytest"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: tc.User}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	// RBAC is served from informers too: wait until the checks the policies
	// make answer as the offline authorizer does.
	offline := policytest.RuleAuthorizer{User: tc.User, Namespace: ns, Rules: all}
	obj, _ := tc.Objects()
	sa, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "spec", "serviceAccountName")
	if sa == "" {
		sa, _, _ = unstructured.NestedString(obj.Object, "spec", "template", "spec", "serviceAccount")
	}
	if sa == "" {
		sa = "default"
	}
	probes := []authorizationv1.ResourceAttributes{
		{Namespace: ns, Verb: "create", Group: "batch", Resource: "jobs"},
		{Namespace: ns, Verb: "impersonate", Group: "", Resource: "serviceaccounts", Name: sa},
		{Namespace: ns, Verb: "create", Group: "batch.example.com", Resource: "sequentialjobs"},
		{Namespace: ns, Verb: "update", Group: "batch.example.com", Resource: "sequentialjobs"},
	}
	user := policytest.UserInfo(tc)
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, p := range probes {
			sar, err := c.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user.GetName(), Groups: user.GetGroups(), ResourceAttributes: &p,
			}}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			want, _, _ := offline.Authorize(ctx, &authorizer.AttributesRecord{
				User: user, Verb: p.Verb, Namespace: p.Namespace, APIGroup: p.Group, Resource: p.Resource, Name: p.Name, ResourceRequest: true,
			})
			if sar.Status.Allowed != (want == authorizer.DecisionAllow) {
				return false, nil
			}
		}
		return true, nil
	}), "RBAC for %s never matched the case's permissions", tc.ID())
}

// setParams makes the shipped parameter ConfigMaps carry the case's params.
// It reports whether anything changed.
func (c *cluster) setParams(t *testing.T, tc *policytest.Case) bool {
	t.Helper()
	changed := false
	for _, want := range c.ev.ParamConfigMaps(tc) {
		cms := c.kube.CoreV1().ConfigMaps(want.Namespace)
		got, err := cms.Get(t.Context(), want.Name, metav1.GetOptions{})
		require.NoError(t, err)
		if maps.Equal(got.Data, want.Data) {
			continue
		}
		got.Data = want.Data
		_, err = cms.Update(t.Context(), got, metav1.UpdateOptions{})
		require.NoError(t, err)
		changed = true
	}
	return changed
}

var sequentialJobs = schema.GroupVersionResource{Group: "batch.example.com", Version: "v1alpha1", Resource: "sequentialjobs"}

// warnings collects the Warning headers of one client's responses.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// request sends the case's request as the case's user, in dry-run mode so
// that nothing is stored, and reports what the user saw.
func (c *cluster) request(ctx context.Context, tc *policytest.Case) (*policytest.Result, error) {
	cfg := rest.CopyConfig(c.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: tc.User, Groups: tc.Groups}
	w := &warnings{}
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	obj, _ := tc.Objects()
	client := dyn.Resource(sequentialJobs).Namespace(obj.GetNamespace())
	dryRun := []string{metav1.DryRunAll}
	if tc.Operation == "UPDATE" {
		current, err := c.dyn.Resource(sequentialJobs).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		obj.SetResourceVersion(current.GetResourceVersion())
		_, err = client.Update(ctx, obj, metav1.UpdateOptions{DryRun: dryRun})
		return result(err, w)
	}
	_, err = client.Create(ctx, obj, metav1.CreateOptions{DryRun: dryRun})
	return result(err, w)
}

func result(err error, w *warnings) (*policytest.Result, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := &policytest.Result{Decision: policytest.Allow, Warnings: slices.Clone(w.list)}
	sort.Strings(res.Warnings)
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status):
		res.Decision, res.Message, res.Code = policytest.Deny, status.Status().Message, status.Status().Code
	case err != nil:
		return nil, err
	case len(res.Warnings) > 0:
		res.Decision, res.Message = policytest.Warn, strings.Join(res.Warnings, "\n")
	}
	return res, nil
}

// storeOldObject creates the case's old object as the admin (the policies
// admit the cluster admin), with its status written through the status
// subresource, as the controller would.
func (c *cluster) storeOldObject(t *testing.T, tc *policytest.Case) func() {
	t.Helper()
	_, old := tc.Objects()
	ctx := t.Context()
	client := c.dyn.Resource(sequentialJobs).Namespace(old.GetNamespace())
	status, hasStatus := old.Object["status"]
	created, err := client.Create(ctx, old, metav1.CreateOptions{})
	require.NoError(t, err, "storing oldObject (it must be valid and admitted for the admin)")
	if hasStatus {
		created.Object["status"] = status
		_, err = client.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		require.NoError(t, err, "storing oldObject.status")
	}
	return func() {
		_, _ = client.Patch(context.Background(), old.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = client.Delete(context.Background(), old.GetName(), metav1.DeleteOptions{})
		_ = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := client.Get(ctx, old.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
	}
}

// TestOnlineParity runs every case against a real kube-apiserver and requires
// the same decision, HTTP status, message and warnings as the offline harness.
func TestOnlineParity(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()

	t.Run("stored policies are what the harness evaluates", func(t *testing.T) {
		for _, want := range c.ev.Set.Policies {
			want = want.DeepCopy()
			policytest.DefaultPolicy(want)
			got, err := c.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, want.Name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Empty(t, cmp.Diff(want.Spec, got.Spec), "apiserver defaults differ from policytest.DefaultPolicy for %s", want.Name)
		}
		for _, want := range c.ev.Set.Bindings {
			want = want.DeepCopy()
			policytest.DefaultBinding(want)
			got, err := c.kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Get(ctx, want.Name, metav1.GetOptions{})
			require.NoError(t, err)
			assert.Empty(t, cmp.Diff(want.Spec, got.Spec), "apiserver defaults differ from policytest.DefaultBinding for %s", want.Name)
		}
	})

	// status.typeChecking is filled by kube-controller-manager, which envtest
	// does not run; run its type checker here against the live apiserver's
	// OpenAPI (the CRD's published schema and the built-in ConfigMap).
	t.Run("the type check against the live schemas finds nothing", func(t *testing.T) {
		disco := discovery.NewDiscoveryClientForConfigOrDie(c.cfg)
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
		schemas := &resolver.ClientDiscoveryResolver{Discovery: disco}
		for _, p := range c.ev.Set.Policies {
			_, err := schemas.ResolveSchema(policytest.SequentialJobGVK)
			require.NoError(t, err, "the live apiserver must publish the CRD's schema")
			assert.Empty(t, policytest.TypeCheckWith(p, schemas, mapper), p.Name)
		}
		broken := c.ev.Set.Policy("sequentialjob-max-steps").DeepCopy()
		broken.Spec.Validations[0].Expression = "object.spec.containerz.size() < 2"
		assert.Len(t, policytest.TypeCheckWith(broken, schemas, mapper), 1, "a misspelt field is caught")
	})

	cases, err := policytest.LoadCases("testdata")
	require.NoError(t, err)
	namespaces := map[string]bool{}
	for _, tc := range cases {
		if namespaces[tc.NamespaceName()] {
			continue
		}
		namespaces[tc.NamespaceName()] = true
		_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: tc.NamespaceName(), Labels: tc.Namespace.Labels,
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// Group by params (one ConfigMap for the cluster) and, within a group, run
	// the deny and warn cases first: each is polled until the apiserver shows
	// its expected effect, which proves that the bindings and params are in
	// force before an allow case can pass for the wrong reason.
	key := func(tc *policytest.Case) string { return fmt.Sprint(tc.Params) }
	sort.SliceStable(cases, func(i, j int) bool {
		if key(cases[i]) != key(cases[j]) {
			return key(cases[i]) < key(cases[j])
		}
		return cases[i].Expect != policytest.Allow && cases[j].Expect == policytest.Allow
	})
	for _, tc := range cases {
		t.Run(tc.ID(), func(t *testing.T) {
			want, err := c.ev.Evaluate(ctx, tc)
			require.NoError(t, err)
			c.setParams(t, tc)
			c.grant(t, tc, tc.Rules())
			if tc.Operation == "UPDATE" {
				t.Cleanup(c.storeOldObject(t, tc))
			}
			var got *policytest.Result
			if crdDeniesFirst(tc) {
				got, err = c.request(ctx, tc)
				require.NoError(t, err)
				assert.Equal(t, policytest.Deny, got.Decision, "the CRD's own Immutable rule denies")
				assert.Equal(t, int32(422), got.Code)
				assert.Contains(t, got.Message, crdImmutableMessage)
				return
			}
			if tc.Expect == policytest.Allow {
				// Run once, without a deadline of its own: an allow case
				// is not waited for (the deny cases before it proved the
				// bindings in force), and a loaded apiserver may take
				// longer than a poll interval to answer.
				got, err = c.request(ctx, tc)
			} else {
				_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
					got, err = c.request(ctx, tc)
					return err == nil && len(policytest.Check(tc, got)) == 0, nil
				})
			}
			require.NoError(t, err)
			for _, p := range policytest.Check(tc, got) {
				t.Errorf("%s: online: %s", tc.Path, p)
			}
			assert.Empty(t, cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
				return p.String() == "AuditAnnotations" // only offline sees the audit event
			}, cmp.Ignore())), "offline (-) and online (+) differ")
		})
	}
}

// crdImmutableMessage is the CRD's own Immutable rule's message.
const crdImmutableMessage = "spec is immutable: spec.updateStrategy.type is Immutable and the first step has started"

// crdDeniesFirst: the CRD enforces Immutable itself, and its validation
// runs before admission policies, so on a real apiserver an Immutable
// denial comes from the CRD, in its words. The policy's own decisions and
// messages are checked offline; the policy remains for Warn and Audit
// bindings.
func crdDeniesFirst(tc *policytest.Case) bool {
	return tc.Policy == "sequentialjob-immutable-once-started" && tc.Expect == policytest.Deny
}

// TestOnlineUserWithoutCreateJobs: on a real apiserver, a user who may create
// SequentialJobs but not Jobs is refused and told what is missing; once
// granted `create jobs`, the same request is stored.
func TestOnlineUserWithoutCreateJobs(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()
	_, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}}, metav1.CreateOptions{})
	require.NoError(t, err)

	tc := &policytest.Case{
		User: "mallory", Operation: "CREATE", Namespace: &policytest.Namespace{Name: "team-b"},
		Object: map[string]any{"metadata": map[string]any{"name": "escalate"}, "spec": map[string]any{
			"containers": []any{map[string]any{
				"name": "step1", "image": "busybox",
				"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}},
			}}}},
	}
	create := func() error {
		cfg := rest.CopyConfig(c.cfg)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "mallory"}
		obj, _ := tc.Objects()
		_, err := dynamic.NewForConfigOrDie(cfg).Resource(sequentialJobs).Namespace("team-b").Create(ctx, obj, metav1.CreateOptions{})
		return err
	}

	c.grant(t, tc, nil) // SequentialJobs only
	err = create()
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Equal(t, `sequentialjobs.batch.example.com "escalate" is forbidden: ValidatingAdmissionPolicy 'sequentialjob-anti-escalation' with binding 'sequentialjob-anti-escalation' denied request: `+
		`user "mallory" may not create jobs.batch in namespace "team-b"; a SequentialJob runs its steps as Jobs, so creating or changing one needs that permission (RBAC: verbs=[create], apiGroups=[batch], resources=[jobs])`,
		err.Error())
	_, err = c.dyn.Resource(sequentialJobs).Namespace("team-b").Get(ctx, "escalate", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "nothing was stored: %v", err)

	c.grant(t, tc, []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{"batch"}, Resources: []string{"jobs"}}})
	require.NoError(t, create(), "with create jobs the same request succeeds")
}
