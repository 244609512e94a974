package gitops_test

import (
	"maps"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// The render cases of a step's when (docs/when.md), as health checkers see
// them: a skip is progress, a run whose other steps succeeded is Healthy,
// an invalid when fails the run as an invalid step does.
func init() {
	healthFixtures = append(healthFixtures, whenFixtures...)
	maps.Copy(healthWants, whenWants)
}

var whenFixtures = []fixture{
	{"when-true-step-starts", "A step's when is true: its Job is being created.", rendered("when-true-step-runs")},
	{"when-skipped-next-starts", "A step's when is false: it is skipped, the next step starts.", rendered("when-false-skips-step-next-starts")},
	{"when-reads-skipped-step", "A step's when reads a skipped step; it starts.", rendered("when-skipped-step-referenced-later")},
	{"when-skipped-run-succeeded", "The last steps were skipped: the run succeeded.", rendered("when-last-steps-skipped-run-succeeds")},
	{"when-does-not-compile", "A when that does not compile fails the run before step 0.", rendered("when-invalid-does-not-compile")},
	{"when-not-bool", "A when that is not a bool fails the run before step 0.", rendered("when-invalid-not-bool")},
	{"when-unknown-step", "A when naming an unknown step fails the run before step 0.", rendered("when-invalid-unknown-step")},
	{"when-later-step", "A when naming a later step fails the run before step 0.", rendered("when-invalid-later-step")},
	{"when-dynamic-step", "A when indexing steps by an expression fails the run before step 0.", rendered("when-invalid-dynamic-step")},
	{"when-cost-limit", "A when over the cost limit fails the run before step 0.", rendered("when-invalid-cost-limit")},
	{"when-invalid-finally", "A finally step's invalid when fails the run before step 0.", rendered("when-invalid-finally-step")},
	{"when-invalid-edit-mid-run", "An edit gave a pending step an invalid when while step 0 runs.", rendered("when-invalid-edit-mid-run-fails-run")},
	{"when-evaluation-failed", "A when failed as it was evaluated: the step, and the run, failed.", rendered("when-evaluation-error-fails-step")},
	{"when-finally-after-failure", "A step failed; the finally step with when: run.failed runs.", rendered("when-finally-run-failed")},
	{"when-finally-after-success", "The steps succeeded; the finally step with when: run.failed is skipped, the next runs.", rendered("when-finally-run-succeeded")},
	{"when-skip-after-lost-write", "A skip whose status write was lost is recorded again; the next step runs.", rendered("when-skip-survives-lost-status-write")},
}

var whenWants = map[string]healthWant{
	"when-true-step-starts":      {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"when-skipped-next-starts":   {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"when-reads-skipped-step":    {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"when-skipped-run-succeeded": {status.CurrentStatus, "Healthy", "condition:Available"},
	"when-does-not-compile":      {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-not-bool":              {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-unknown-step":          {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-later-step":            {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-dynamic-step":          {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-cost-limit":            {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-invalid-finally":       {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-invalid-edit-mid-run":  {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-evaluation-failed":     {status.FailedStatus, "Degraded", "condition:Stalled"},
	"when-finally-after-failure": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"when-finally-after-success": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
	"when-skip-after-lost-write": {status.InProgressStatus, "Progressing", "condition:Reconciling"},
}
