// Package policytest evaluates the shipped ValidatingAdmissionPolicies against
// case files, offline, with k8s.io/apiserver's own ValidatingAdmissionPolicy
// admission plugin: the same compiler, CEL environment and libraries, binding
// matching, paramRef resolution, validationActions and message formatting as
// kube-apiserver. Only the cluster around it is faked: the policies, bindings,
// namespace and parameters come from fake clients, and the authorizer from the
// case's permissions.
package policytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Decision is what the user sees.
type Decision string

const (
	// Allow: the request succeeds with no warning.
	Allow Decision = "allow"
	// Deny: the request fails; Message is the error.
	Deny Decision = "deny"
	// Warn: the request succeeds with warnings; Message is the warnings.
	Warn Decision = "warn"
)

// Defaults for the fields a case file may leave out.
const (
	DefaultUser      = "alice"
	DefaultNamespace = "team-a"
)

// DefaultPermissions are what a namespace editor has that the policies look
// at: create Jobs, impersonate ServiceAccounts (the built-in edit role grants
// both). A case without a permissions key gets these.
var DefaultPermissions = []rbacv1.PolicyRule{
	{Verbs: []string{"create"}, APIGroups: []string{"batch"}, Resources: []string{"jobs"}},
	{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"serviceaccounts"}},
}

// Namespace is the namespace a case runs in. Labels select bindings
// (policies.batch.example.com/mode: enforce turns warnings into denials).
type Namespace struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Case is one file policies/testdata/<policy>/<name>.<allow|deny|warn>.yaml.
type Case struct {
	// Reason says why the case exists (documentation only).
	Reason string `json:"reason"`
	// Operation is CREATE (the default) or UPDATE (which needs oldObject).
	Operation string `json:"operation,omitempty"`
	// User and Groups make the request (default alice, no extra groups).
	User   string   `json:"user,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Namespace defaults to team-a with no labels.
	Namespace *Namespace `json:"namespace,omitempty"`
	// Permissions are RBAC rules the user holds in the namespace, as the
	// `authorizer` variable sees them. Absent means DefaultPermissions; an
	// empty list means none.
	Permissions *[]rbacv1.PolicyRule `json:"permissions,omitempty"`
	// Params overrides keys of the shipped parameter ConfigMap's data.
	Params map[string]string `json:"params,omitempty"`
	// Object is the SequentialJob in the request; OldObject the stored one
	// (UPDATE only; its status says whether the run has started).
	Object    map[string]any `json:"object"`
	OldObject map[string]any `json:"oldObject,omitempty"`
	// Message is a fragment the denial or the warnings must contain.
	Message string `json:"message,omitempty"`
	// Code is the HTTP status of a denial: 403 (the default; every policy
	// denies with reason Forbidden) or 422 when an expression fails to
	// evaluate and failurePolicy Fail turns that into a denial.
	Code int32 `json:"code,omitempty"`

	// Set from the file name.
	Policy string   `json:"-"`
	Name   string   `json:"-"`
	Path   string   `json:"-"`
	Expect Decision `json:"-"`
}

// ID is <policy>/<name>.<decision>, for test names.
func (c *Case) ID() string { return fmt.Sprintf("%s/%s.%s", c.Policy, c.Name, c.Expect) }

// NamespaceName is the namespace the request is in.
func (c *Case) NamespaceName() string { return c.Namespace.Name }

// Rules are the permissions the user holds in the namespace.
func (c *Case) Rules() []rbacv1.PolicyRule {
	if c.Permissions == nil {
		return DefaultPermissions
	}
	return *c.Permissions
}

// Objects returns the request's object and old object (nil for CREATE) with
// apiVersion, kind and namespace filled in.
func (c *Case) Objects() (obj, old *unstructured.Unstructured) {
	fill := func(m map[string]any) *unstructured.Unstructured {
		if m == nil {
			return nil
		}
		u := &unstructured.Unstructured{Object: m}
		u = u.DeepCopy()
		if u.GetAPIVersion() == "" {
			u.SetAPIVersion("batch.example.com/v1alpha1")
		}
		if u.GetKind() == "" {
			u.SetKind("SequentialJob")
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(c.NamespaceName())
		}
		return u
	}
	return fill(c.Object), fill(c.OldObject)
}

// LoadCase reads one case file.
func LoadCase(path string) (*Case, error) {
	base := filepath.Base(path)
	parts := strings.Split(strings.TrimSuffix(base, ".yaml"), ".")
	if len(parts) != 2 || !strings.HasSuffix(base, ".yaml") {
		return nil, fmt.Errorf("%s: name must be <case>.<allow|deny|warn>.yaml", path)
	}
	c := &Case{Policy: filepath.Base(filepath.Dir(path)), Name: parts[0], Path: path, Expect: Decision(parts[1])}
	switch c.Expect {
	case Allow, Deny, Warn:
	default:
		return nil, fmt.Errorf("%s: decision %q must be allow, deny or warn", path, parts[1])
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.setDefaults()
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// setDefaults fills in what a case file may leave out.
func (c *Case) setDefaults() {
	if c.Operation == "" {
		c.Operation = "CREATE"
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.Expect == Deny && c.Code == 0 {
		c.Code = 403
	}
	if c.Namespace == nil {
		c.Namespace = &Namespace{Name: DefaultNamespace}
	}
}

// check reports the first thing a defaulted case lacks or gets wrong.
func (c *Case) check() error {
	switch {
	case c.Reason == "":
		return errors.New("reason is required: say why the case exists")
	case c.Object == nil:
		return errors.New("object is required")
	case c.Operation != "CREATE" && c.Operation != "UPDATE":
		return errors.New("operation must be CREATE or UPDATE")
	case c.Operation == "UPDATE" && c.OldObject == nil:
		return errors.New("an UPDATE needs oldObject")
	case c.Operation == "CREATE" && c.OldObject != nil:
		return errors.New("a CREATE has no oldObject")
	case c.Expect != Allow && c.Message == "":
		return fmt.Errorf("a %s case needs message: a fragment of what the user sees", c.Expect)
	}
	if obj, _ := c.Objects(); obj.GetName() == "" {
		return errors.New("object.metadata.name is required")
	}
	return nil
}

// LoadCases reads every testdata/<policy>/*.yaml under root, sorted. It
// checks that a namespace name always comes with the same labels, because
// the online test creates each namespace once.
func LoadCases(root string) ([]*Case, error) {
	files, err := filepath.Glob(filepath.Join(root, "*", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var cases []*Case
	labels := map[string]string{}
	for _, f := range files {
		c, err := LoadCase(f)
		if err != nil {
			return nil, err
		}
		l := fmt.Sprint(c.Namespace.Labels)
		if prev, ok := labels[c.NamespaceName()]; ok && prev != l {
			return nil, fmt.Errorf("%s: namespace %s has labels %s here and %s in another case; use another namespace name", f, c.NamespaceName(), l, prev)
		}
		labels[c.NamespaceName()] = l
		cases = append(cases, c)
	}
	return cases, nil
}
