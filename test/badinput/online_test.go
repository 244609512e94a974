package badinput_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/policies"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/test/fixtures"
	"example.com/sequentialjob/test/testenv"
)

var sequentialJobs = schema.GroupVersionResource{Group: "batch.example.com", Version: "v1alpha1", Resource: "sequentialjobs"}

const (
	waitFor = 60 * time.Second
	tick    = 100 * time.Millisecond
)

// online is a real kube-apiserver and etcd (envtest, from bin/) with the CRD
// and the shipped policies installed, and the catalogue's namespaces.
type online struct {
	env  *testenv.Env
	kube kubernetes.Interface
	dyn  dynamic.Interface
	// limited is a client of limitedUser.
	limited kubernetes.Interface
}

// TestOnline sends every case to a real apiserver as kubectl would: the
// file itself as the request body (application/yaml, fieldValidation=Strict,
// kubectl's default), or, for an update, the file over the stored object
// (whose status is written first, through the status subresource). A case
// refused at admission must be refused with its message, and leave nothing
// stored or changed. The admitted cases then meet the real controller: each
// must reach its state (InvalidStep, the controller's failure, or its first
// Job) and then stay there, with no Job it should not have: the controller
// neither loops nor panics on them.
func TestOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts kube-apiserver and etcd from bin/")
	}
	o := startOnline(t)
	var admitted []badCase
	t.Run("admission", func(t *testing.T) {
		for _, c := range loadCatalogue(t) {
			t.Run(c.Name, func(t *testing.T) {
				t.Logf("%s: %s", c.Layer, c.Why)
				if o.admit(t, c) {
					admitted = append(admitted, c)
				}
			})
		}
	})
	t.Run("controller", func(t *testing.T) {
		for _, c := range admitted {
			o.createRunningJobs(t, c)
		}
		startController(t, o.env)
		for _, c := range admitted {
			t.Run(c.Name, func(t *testing.T) { o.awaitOutcome(t, c) })
		}
		// Nothing the controller does changes them any more: no status
		// write, no new Job, for a while after each reached its state.
		before := map[string]string{}
		for _, c := range admitted {
			before[c.Name] = o.fingerprint(t, c)
		}
		time.Sleep(3 * time.Second)
		for _, c := range admitted {
			assert.Equal(t, before[c.Name], o.fingerprint(t, c), "%s: the controller still acts on it (a loop?)", c.Name)
		}
	})
}

func startOnline(t *testing.T) *online {
	t.Helper()
	env := testenv.Start(t)
	o := &online{env: env, kube: kubernetes.NewForConfigOrDie(env.Config), dyn: dynamic.NewForConfigOrDie(env.Config)}
	ctx := t.Context()
	set, err := policies.Load()
	require.NoError(t, err)
	_, err = o.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sequentialjob-system"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	for _, p := range set.Policies {
		_, err := o.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err, p.Name)
	}
	for _, b := range set.Bindings {
		_, err := o.kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{})
		require.NoError(t, err, b.Name)
	}
	for _, cm := range set.ConfigMaps {
		_, err := o.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		require.NoError(t, err, cm.Name)
	}
	for key, labels := range namespaceLabels {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(badCase{Namespace: key}), Labels: labels}}
		_, err := o.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		require.NoError(t, err)
		o.grantLimited(t, ns.Name)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: limitedUser}
	o.limited = kubernetes.NewForConfigOrDie(cfg)
	return o
}

// grantLimited gives limitedUser its rules in ns, and what reaching
// admission needs: create SequentialJobs.
func (o *online) grantLimited(t *testing.T, ns string) {
	t.Helper()
	rules := append(slices.Clone(limitedRules), rbacv1.PolicyRule{Verbs: []string{"create", "get"}, APIGroups: []string{"batch.example.com"}, Resources: []string{"sequentialjobs"}})
	_, err := o.kube.RbacV1().Roles(ns).Create(t.Context(), &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: limitedUser}, Rules: rules}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = o.kube.RbacV1().RoleBindings(ns).Create(t.Context(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: limitedUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: limitedUser},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: limitedUser}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// admit sends the case and checks what the user sees. It reports whether
// the apiserver stored it.
func (o *online) admit(t *testing.T, c badCase) bool {
	t.Helper()
	ctx := t.Context()
	ns := namespaceName(c)
	kube := o.kube
	if c.User == limitedUser {
		kube = o.limited
	}
	var send func(dryRun bool) error
	var name string
	var generation int64
	if c.update() {
		stored := o.store(t, ns, c.Old)
		name, generation = stored.GetName(), stored.GetGeneration()
		obj, err := decodeStrict(c.Raw)
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: obj}
		u.SetResourceVersion(stored.GetResourceVersion())
		body, err := json.Marshal(u.Object)
		require.NoError(t, err)
		send = func(dryRun bool) error {
			return request(ctx, kube, "PUT", "/apis/batch.example.com/v1alpha1/namespaces/"+ns+"/sequentialjobs/"+name, "application/json", body, dryRun)
		}
	} else {
		send = func(dryRun bool) error {
			return request(ctx, kube, "POST", "/apis/batch.example.com/v1alpha1/namespaces/"+ns+"/sequentialjobs", "application/yaml", c.Raw, dryRun)
		}
	}
	if c.layerToday() == layerPolicy {
		// Bindings, and RBAC, take effect a moment after they are created:
		// wait, in dry-run, until this one speaks.
		var last error
		if !assert.Eventually(t, func() bool {
			last = send(true)
			return last != nil && strings.Contains(last.Error(), c.Message)
		}, waitFor, tick) {
			require.FailNow(t, "the policy never refused it with its message", "want %q, last response: %v", c.Message, last)
		}
	}
	err := send(false)
	if c.admitted() {
		require.NoError(t, err, "refused at admission")
		return true
	}
	require.Error(t, err, "admitted")
	t.Logf("the user reads: %v", err)
	assert.Contains(t, err.Error(), c.Message)

	got, getErr := o.dyn.Resource(sequentialJobs).Namespace(ns).Get(ctx, nameOf(t, c, name), metav1.GetOptions{})
	if c.update() {
		require.NoError(t, getErr)
		assert.Equal(t, generation, got.GetGeneration(), "the refused update changed the stored object")
	} else {
		assert.True(t, apierrors.IsNotFound(getErr), "the refused object was stored: %v", getErr)
	}
	return false
}

// request sends body as kubectl does with its default strict field
// validation, and returns the apiserver's error.
func request(ctx context.Context, kube kubernetes.Interface, method, path, contentType string, body []byte, dryRun bool) error {
	req := kube.CoreV1().RESTClient().Verb(method).AbsPath(path).Param("fieldValidation", "Strict").
		SetHeader("Content-Type", contentType).Body(body)
	if dryRun {
		req = req.Param("dryRun", "All")
	}
	return req.Do(ctx).Error()
}

// nameOf is the metadata.name of the case (its file's, for a refused
// create whose YAML may not decode).
func nameOf(t *testing.T, c badCase, updated string) string {
	if updated != "" {
		return updated
	}
	if obj, err := decodeStrict(c.Raw); err == nil {
		if name := (&unstructured.Unstructured{Object: obj}).GetName(); name != "" {
			return name
		}
	}
	return c.Name
}

// store creates the stored object of an update case and writes its status
// through the status subresource, as the controller would have.
func (o *online) store(t *testing.T, ns, path string) *unstructured.Unstructured {
	t.Helper()
	ctx := t.Context()
	obj := loadStored(t, path)
	status := obj["status"]
	delete(obj, "status")
	u := &unstructured.Unstructured{Object: obj}
	client := o.dyn.Resource(sequentialJobs).Namespace(ns)
	// An earlier case may have stored the same object: start afresh.
	if err := client.Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err == nil {
		require.Eventually(t, func() bool {
			_, err := client.Get(ctx, u.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}, waitFor, tick)
	}
	created, err := client.Create(ctx, u, metav1.CreateOptions{})
	require.NoError(t, err, "storing %s", path)
	created.Object["status"] = status
	updated, err := client.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	require.NoError(t, err, "writing the status of %s", path)
	return updated
}

// getSJ reads the case's SequentialJob.
func (o *online) getSJ(t *testing.T, c badCase) *v1alpha1.SequentialJob {
	t.Helper()
	sj, err := o.get(c)
	require.NoError(t, err)
	return sj
}

// get reads the case's SequentialJob, for polling: no test assertion, since
// a poll may outlive its test.
func (o *online) get(c badCase) (*v1alpha1.SequentialJob, error) {
	obj, err := decodeStrict(c.Raw)
	if err != nil {
		return nil, err
	}
	sj := &v1alpha1.SequentialJob{}
	key := client.ObjectKey{Namespace: namespaceName(c), Name: (&unstructured.Unstructured{Object: obj}).GetName()}
	return sj, o.env.Client.Get(context.Background(), key, sj)
}

func (o *online) jobsOf(t *testing.T, sj *v1alpha1.SequentialJob) []batchv1.Job {
	t.Helper()
	list := &batchv1.JobList{}
	require.NoError(t, o.env.Client.List(t.Context(), list, client.InNamespace(sj.Namespace),
		client.MatchingLabels{v1alpha1.LabelSequentialJob: sj.Name}))
	return list.Items
}

// createRunningJobs creates, for an admitted update, the Job of each step
// the stored status says is running, as the controller had; for a
// controller case the Job has completed, so the next step is due.
func (o *online) createRunningJobs(t *testing.T, c badCase) {
	t.Helper()
	if !c.update() {
		return
	}
	sj := o.getSJ(t, c)
	for i, step := range sj.Status.Steps {
		if step.Phase != v1alpha1.PhaseRunning {
			continue
		}
		job := stepJob(sj, i, step.Name)
		require.NoError(t, o.env.Client.Create(t.Context(), &job))
		if c.Layer == layerController {
			require.NoError(t, fixtures.CompleteJob(t.Context(), o.env.Client, &job))
		}
	}
}

// awaitOutcome waits until the controller has brought the case to its
// state, and checks the Jobs.
func (o *online) awaitOutcome(t *testing.T, c badCase) {
	t.Helper()
	if c.Gap != "" {
		t.Logf("known gap (it should be refused by %s): %s", c.Layer, c.Gap)
	}
	var sj *v1alpha1.SequentialJob
	reached := func(cond func(*v1alpha1.SequentialJob) bool) {
		t.Helper()
		var last *v1alpha1.SequentialJob
		ok := assert.Eventually(t, func() bool {
			got, err := o.get(c)
			if err != nil {
				return false
			}
			last = got
			return cond(got)
		}, waitFor, tick)
		if !ok {
			require.FailNow(t, "the controller never brought it to its state", "status: %+v", last.Status)
		}
		sj = last
		if failed := meta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed); failed != nil && failed.Status == metav1.ConditionTrue {
			t.Logf("the user reads: %s", failed.Message)
		}
	}
	failedWith := func(reason string) func(*v1alpha1.SequentialJob) bool {
		return func(sj *v1alpha1.SequentialJob) bool {
			cond := meta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed)
			return sj.Status.Phase == v1alpha1.PhaseFailed && cond != nil && cond.Status == metav1.ConditionTrue &&
				(reason == "" || cond.Reason == reason)
		}
	}
	switch c.layerToday() {
	case layerDryRun:
		reached(failedWith(v1alpha1.ReasonInvalidStep))
		fixtures.RequireRunFailedFast(t, sj.Status, v1alpha1.ReasonInvalidStep, c.Message)
		assert.Empty(t, o.jobsOf(t, sj), "no step ran")
	case layerController:
		reached(failedWith(""))
		assert.Contains(t, meta.FindStatusCondition(sj.Status.Conditions, v1alpha1.ConditionFailed).Message, c.Message)
		if c.update() {
			assert.Len(t, o.jobsOf(t, sj), 1, "only the Job of the step that was running")
		} else {
			assert.Empty(t, o.jobsOf(t, sj), "the run failed before its first step")
		}
	case layerAccepted:
		if c.update() {
			reached(func(sj *v1alpha1.SequentialJob) bool { return sj.Status.ObservedGeneration == sj.Generation })
			assert.Equal(t, v1alpha1.PhaseRunning, sj.Status.Phase)
			assert.Len(t, o.jobsOf(t, sj), 1, "the running step goes on; nothing else starts")
			return
		}
		reached(func(sj *v1alpha1.SequentialJob) bool { return sj.Status.Phase == v1alpha1.PhaseRunning })
		jobs := o.jobsOf(t, sj)
		require.Len(t, jobs, 1)
		assert.Equal(t, sj.Status.Steps[0].JobName, jobs[0].Name)
	}
}

// fingerprint is what would change if the controller kept acting on the
// case: its resourceVersion and its Jobs'.
func (o *online) fingerprint(t *testing.T, c badCase) string {
	t.Helper()
	sj := o.getSJ(t, c)
	out := sj.ResourceVersion
	for _, job := range o.jobsOf(t, sj) {
		out += " " + job.Name + "@" + job.ResourceVersion
	}
	return out
}

// startController runs the controller (the reconciler, as the binary wires
// it) until the test ends.
func startController(t *testing.T, env *testenv.Env) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  reconciler.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	r, err := reconciler.New(mgr, nil)
	require.NoError(t, err)
	require.NoError(t, r.SetupWithManager(mgr))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the controller stopped with %v", err)
		}
	})
}
