package policytest

import (
	"context"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// RuleAuthorizer answers the `authorizer` variable from RBAC rules that one
// user holds in one namespace, as a Role bound to that user would: the online
// test creates exactly that Role and RoleBinding.
type RuleAuthorizer struct {
	User      string
	Namespace string
	Rules     []rbacv1.PolicyRule
}

var _ authorizer.UnconditionalAuthorizer = RuleAuthorizer{}

// Authorize implements authorizer.UnconditionalAuthorizer.
func (r RuleAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetUser() == nil || a.GetUser().GetName() != r.User || !a.IsResourceRequest() || a.GetNamespace() != r.Namespace {
		return authorizer.DecisionNoOpinion, "", nil
	}
	resource := a.GetResource()
	if a.GetSubresource() != "" {
		resource += "/" + a.GetSubresource()
	}
	for _, rule := range r.Rules {
		if matches(rule.Verbs, a.GetVerb()) && matches(rule.APIGroups, a.GetAPIGroup()) &&
			matches(rule.Resources, resource) &&
			(len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, a.GetName())) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func matches(values []string, v string) bool {
	return slices.Contains(values, rbacv1.VerbAll) || slices.Contains(values, v)
}
