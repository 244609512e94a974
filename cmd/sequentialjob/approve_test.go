package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

func TestApproveFieldManager(t *testing.T) {
	for _, tc := range []struct{ name, reason, user, want string }{
		{name: "user", reason: "the user name after the prefix", user: "alice", want: "kubectl-sequentialjob-approve/alice"},
		{name: "service-account", reason: "a service account's name as the apiserver gives it",
			user: "system:serviceaccount:ci:deployer", want: "kubectl-sequentialjob-approve/system:serviceaccount:ci:deployer"},
		{name: "empty", reason: "an anonymous answer is named, not left blank", user: "", want: "kubectl-sequentialjob-approve/unknown"},
		{name: "long", reason: "cut to the apiserver's 128 characters", user: strings.Repeat("u", 200),
			want: "kubectl-sequentialjob-approve/" + strings.Repeat("u", 128-len(ApproveFieldManagerPrefix))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, approveFieldManager(tc.user), tc.reason)
		})
	}
}

func TestCheckGate(t *testing.T) {
	sj := fixtures.MakeSequentialJob("default", "pipeline").Steps("build", "deploy").Gate("deploy").
		Settings(v1alpha1.StepSettings{Name: "build", OnFailure: v1alpha1.OnFailureContinue}).Obj()
	for _, tc := range []struct{ name, reason, step, wantErr string }{
		{name: "gated", reason: "a gated step is approved", step: "deploy"},
		{name: "not-gated", reason: "a step with settings but no gate has nothing to approve", step: "build",
			wantErr: `sequentialjob pipeline: step "build" has no approval gate (stepSettings approval: Required), so there is nothing to approve`},
		{name: "unknown", reason: "a typo is refused before anything is applied", step: "deplyo",
			wantErr: `sequentialjob pipeline: step "deplyo" has no approval gate (stepSettings approval: Required), so there is nothing to approve`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkGate(sj, tc.step)
			if tc.wantErr == "" {
				assert.NoError(t, err, tc.reason)
				return
			}
			assert.EqualError(t, err, tc.wantErr, tc.reason)
		})
	}
}
