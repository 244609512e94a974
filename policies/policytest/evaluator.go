package policytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/warning"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"

	"example.com/sequentialjob/policies"
)

// GVR and GVK of the resource the policies guard.
var (
	SequentialJobGVR = schema.GroupVersionResource{Group: "batch.example.com", Version: "v1alpha1", Resource: "sequentialjobs"}
	SequentialJobGVK = schema.GroupVersionKind{Group: "batch.example.com", Version: "v1alpha1", Kind: "SequentialJob"}
)

// AuditAnnotationKey is where the apiserver records failures of bindings
// with the Audit action.
const AuditAnnotationKey = "validation.policy.admission.k8s.io/validation_failure"

// Result is what the user saw, plus what the audit log would record.
type Result struct {
	Decision Decision
	// Message is the denial (the error text, as kubectl prints it after
	// "Error from server (Forbidden): ") or the warnings joined by "\n".
	Message string
	// Code is the HTTP status of a denial.
	Code int32
	// Warnings are the warning headers, sorted.
	Warnings []string
	// AuditAnnotations are the annotations admission added to the audit event.
	AuditAnnotations map[string]string
}

func (r *Result) String() string {
	return fmt.Sprintf("%s: %s", r.Decision, r.Message)
}

// Evaluator runs cases through the apiserver's ValidatingAdmissionPolicy
// admission plugin, one fresh plugin per case so that cases cannot leak into
// each other.
type Evaluator struct {
	Set *policies.Set
}

var refreshOnce sync.Once

// NewEvaluator loads the shipped policies.
func NewEvaluator() (*Evaluator, error) {
	set, err := policies.Load()
	if err != nil {
		return nil, err
	}
	// The plugin compiles policies on a 1s tick; a case should not wait that long.
	refreshOnce.Do(func() { generic.SetPolicyRefreshIntervalForTests(10 * time.Millisecond) })
	return &Evaluator{Set: set}, nil
}

// ParamConfigMaps returns the shipped ConfigMaps with the case's params
// merged into their data.
func (e *Evaluator) ParamConfigMaps(c *Case) []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, cm := range e.Set.ConfigMaps {
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		maps.Copy(cm.Data, c.Params)
		out = append(out, cm)
	}
	return out
}

// UserInfo is the requesting user, with the group every authenticated
// (and impersonated) user gets.
func UserInfo(c *Case) user.Info {
	groups := append([]string{}, c.Groups...)
	groups = append(groups, user.AllAuthenticated)
	return &user.DefaultInfo{Name: c.User, Groups: groups}
}

// Evaluate runs one case.
func (e *Evaluator) Evaluate(ctx context.Context, c *Case) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	kubeObjects := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.NamespaceName(), Labels: c.Namespace.Labels}},
	}
	var paramObjects []runtime.Object
	for _, cm := range e.ParamConfigMaps(c) {
		if cm.Namespace != c.NamespaceName() {
			kubeObjects = append(kubeObjects, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cm.Namespace}})
		}
		kubeObjects = append(kubeObjects, cm)
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
		if err != nil {
			return nil, err
		}
		param := &unstructured.Unstructured{Object: u}
		param.SetAPIVersion("v1")
		param.SetKind("ConfigMap")
		paramObjects = append(paramObjects, param)
	}
	for _, p := range e.Set.Policies {
		p = p.DeepCopy()
		DefaultPolicy(p)
		kubeObjects = append(kubeObjects, p)
	}
	for _, b := range e.Set.Bindings {
		b = b.DeepCopy()
		DefaultBinding(b)
		kubeObjects = append(kubeObjects, b)
	}
	client := fake.NewClientset(kubeObjects...)
	dynamicClient := dynamicfake.NewSimpleDynamicClient(scheme.Scheme, paramObjects...)

	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("ConfigMap"), meta.RESTScopeNamespace)
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	mapper.AddSpecific(SequentialJobGVK, SequentialJobGVR, SequentialJobGVR.GroupVersion().WithResource("sequentialjob"), meta.RESTScopeNamespace)

	plugin, err := validating.NewPlugin(nil)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	plugin.SetExternalKubeClientSet(client)
	plugin.SetExternalKubeInformerFactory(factory)
	plugin.SetRESTMapper(mapper)
	plugin.SetDynamicClient(dynamicClient)
	plugin.SetDrainedNotification(ctx.Done())
	plugin.SetAPIServerID("policytest")
	plugin.SetUnconditionalAuthorizer(RuleAuthorizer{User: c.User, Namespace: c.NamespaceName(), Rules: c.Rules()})
	if err := plugin.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("initialising the admission plugin: %w", err)
	}
	factory.Start(ctx.Done())
	if !plugin.WaitForReady() {
		return nil, errors.New("the admission plugin did not become ready")
	}

	obj, old := c.Objects()
	var oldObject runtime.Object
	if old != nil {
		oldObject = old
	}
	attrs := &recordingAttributes{Attributes: admission.NewAttributesRecord(
		obj, oldObject, SequentialJobGVK, obj.GetNamespace(), obj.GetName(), SequentialJobGVR, "",
		admission.Operation(c.Operation), operationOptions(c.Operation), false, UserInfo(c),
	), annotations: map[string]string{}}

	warnings := &warningRecorder{}
	ctx = warning.WithWarningRecorder(ctx, warnings)
	err = plugin.Validate(ctx, attrs, admission.NewObjectInterfacesFromScheme(runtime.NewScheme()))

	res := &Result{Decision: Allow, Warnings: warnings.sorted(), AuditAnnotations: attrs.annotations}
	switch {
	case err != nil:
		res.Decision, res.Message = Deny, err.Error()
		var status interface{ Status() metav1.Status }
		if errors.As(err, &status) {
			res.Code = status.Status().Code
		}
	case len(res.Warnings) > 0:
		res.Decision, res.Message = Warn, strings.Join(res.Warnings, "\n")
	}
	return res, nil
}

func operationOptions(op string) runtime.Object {
	if op == "UPDATE" {
		return &metav1.UpdateOptions{}
	}
	return &metav1.CreateOptions{}
}

// recordingAttributes keeps the audit annotations admission adds.
type recordingAttributes struct {
	admission.Attributes
	mu          sync.Mutex
	annotations map[string]string
}

func (r *recordingAttributes) AddAnnotation(key, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.annotations[key] = value
	return r.Attributes.AddAnnotation(key, value)
}

type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) AddWarning(_, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

func (w *warningRecorder) sorted() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]string(nil), w.warnings...)
	sort.Strings(out)
	return out
}
