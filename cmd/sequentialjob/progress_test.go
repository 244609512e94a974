package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/test/fixtures"
)

// TestProgressPrinter feeds the `local run` progress printer the statuses
// render produces: it prints render's transitions, a retried wait as
// Pending (as kubectl get sqj shows it, not as a failure), and counts a run
// finished only once its phase says so.
func TestProgressPrinter(t *testing.T) {
	cases := map[string]struct {
		reason       string
		wantLines    []string
		wantFinished bool
		wantFailed   bool
	}{
		"reconciliation-error-sets-failed-condition": {
			reason: "An apiserver error holds step 0: it waits and is retried, the run has not failed.",
			wantLines: []string{"default/example-job-sequence  step 0/1 (step1)  Pending: waiting, retried by the controller: ReconciliationError " +
				"(Failed to reconcile: creating the step's Job: etcdserver: request timed out)"},
		},
		"approval-gate-holds-run": {
			reason: "A gate holds the next step: it waits for a person, not for a retry.",
			wantLines: []string{
				"default/pipeline  step 0/3 (build)  Succeeded after 1m0s",
				`default/pipeline  step 1/3 (test)  Pending: waits for approval: its Job is created once spec.approvedSteps lists "test"`,
				"default/pipeline  Waiting for approval of step 1 (test)",
			},
		},
		"job-1-failed-backoff-limit-exceeded": {
			reason: "Step 1 fails: its line, then the run's.",
			wantLines: []string{
				"default/pipeline  step 0/3 (build)  Succeeded after 1m0s",
				"default/pipeline  step 1/3 (test)  Failed after 1m0s: BackoffLimitExceeded (Job has reached the specified backoff limit)",
				"default/pipeline  Failed after 2m0s: Job 1 failed: BackoffLimitExceeded",
			},
			wantFinished: true, wantFailed: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := fixtures.LoadRenderCase(filepath.Join("..", "..", "render", "testdata", name))
			require.NoError(t, err)
			sj := c.SequentialJob.DeepCopy()
			sj.Status = c.Render(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)).Status

			var out bytes.Buffer
			p := newProgressPrinter(&out, time.Now())
			p.observe(sj)
			p.observe(sj.DeepCopy()) // the same status again prints nothing
			var got []string
			for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
				_, rest, _ := bytes.Cut(line, []byte(" "))
				got = append(got, string(bytes.TrimSpace(rest)))
			}
			assert.Equal(t, tc.wantLines, got, tc.reason)
			finished, failed := p.allDone()
			assert.Equal(t, tc.wantFinished, finished, tc.reason)
			assert.Equal(t, tc.wantFailed, failed, tc.reason)
		})
	}
}
