package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

// TestRetryIntent: what `kubectl sequentialjob retry` applies, and what it
// refuses before anything is applied.
func TestRetryIntent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(phase v1alpha1.Phase, token string) *v1alpha1.SequentialJob {
		sj := &v1alpha1.SequentialJob{}
		sj.Name = "pipeline"
		sj.Spec.Containers = []corev1.Container{{Name: "build"}, {Name: "test"}, {Name: "deploy"}}
		sj.Spec.Finally = []corev1.Container{{Name: "notify"}}
		sj.Spec.RetryToken, sj.Status.RetryToken, sj.Status.Phase = token, token, phase
		return sj
	}
	for name, tc := range map[string]struct {
		reason      string
		sj          *v1alpha1.SequentialJob
		token, from string
		// want is the spec applied: retryToken and retryFrom.
		wantToken, wantFrom *string
		wantDone, wantErr   string
	}{
		"FailedRunPlainRetry": {
			reason: "A Failed run gets a new token alone, named after the time.",
			sj:     run(v1alpha1.PhaseFailed, ""), wantToken: ptr.To("retry-20260102T030405Z"),
			wantDone: "retried (retryToken retry-20260102T030405Z)",
		},
		"SucceededRunFromStep": {
			reason: "--from sets both fields in one apply: a Succeeded run re-runs from test.",
			sj:     run(v1alpha1.PhaseSucceeded, "one"), token: "two", from: "test",
			wantToken: ptr.To("two"), wantFrom: ptr.To("test"), wantDone: "retried from step test (retryToken two)",
		},
		"FailedRunFromStep": {
			reason: "--from works on a Failed run too.",
			sj:     run(v1alpha1.PhaseFailed, ""), token: "two", from: "build",
			wantToken: ptr.To("two"), wantFrom: ptr.To("build"), wantDone: "retried from step build (retryToken two)",
		},
		"SucceededRunWithoutFrom": {
			reason:  "Without --from, a Succeeded run has nothing to retry: the controller would ignore the token.",
			sj:      run(v1alpha1.PhaseSucceeded, ""),
			wantErr: "sequentialjob pipeline is Succeeded, not Failed: only a Failed run is retried (--from STEP re-runs a Succeeded one)",
		},
		"RunningRunFromStep": {
			reason: "A running run is not retried: the controller would only record the token.",
			sj:     run(v1alpha1.PhaseRunning, ""), from: "test",
			wantErr: "sequentialjob pipeline is Running: only a Failed or Succeeded run is retried from a step",
		},
		"UnknownStep": {
			reason: "A step the run does not have is refused before the apiserver would.",
			sj:     run(v1alpha1.PhaseSucceeded, ""), from: "tset",
			wantErr: `sequentialjob pipeline has no step "tset" in spec.containers`,
		},
		"FinallyStep": {
			reason: "The finally steps always run again: a retry cannot start among them.",
			sj:     run(v1alpha1.PhaseSucceeded, ""), from: "notify",
			wantErr: `"notify" is a finally step of sequentialjob pipeline: the finally steps run again on every retry; --from names a step of spec.containers`,
		},
		"TokenAlreadyUsed": {
			reason: "The token the run has would retry nothing.",
			sj:     run(v1alpha1.PhaseSucceeded, "same"), token: "same", from: "test",
			wantErr: `retry token "same" was already used: a retry needs a new value`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := sjac.SequentialJobSpec()
			done, err := retryIntent(tc.sj, spec, tc.token, tc.from, now)
			if tc.wantErr != "" {
				assert.EqualError(t, err, tc.wantErr, tc.reason)
				assert.Equal(t, sjac.SequentialJobSpec(), spec, "%s: nothing is applied", tc.reason)
				return
			}
			assert.NoError(t, err, tc.reason)
			assert.Equal(t, tc.wantDone, done, tc.reason)
			assert.Equal(t, tc.wantToken, spec.RetryToken, tc.reason)
			assert.Equal(t, tc.wantFrom, spec.RetryFrom, tc.reason)
		})
	}
}
