package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// TestStatusTreeShowsSkippedSteps: the plugin's status tree shows a step
// its when skipped with no Job, and why; a finally step skipped likewise.
func TestStatusTreeShowsSkippedSteps(t *testing.T) {
	at := func(min int) *metav1.Time {
		v := metav1.NewTime(time.Date(2026, 1, 2, 3, min, 0, 0, time.UTC))
		return &v
	}
	sj := &v1alpha1.SequentialJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "pipeline"}}
	sj.Status = v1alpha1.SequentialJobStatus{Phase: v1alpha1.PhaseSucceeded, Attempt: 1, Progress: v1alpha1.JobProgress{Summary: "2/3"},
		Steps: []v1alpha1.StepStatus{
			{Name: "build", JobName: "pipeline-0", Phase: v1alpha1.PhaseSucceeded, StartTime: at(0), CompletionTime: at(1), Result: "0"},
			{Name: "deploy", JobName: "pipeline-1", Phase: v1alpha1.PhaseSkipped, CompletionTime: at(1),
				Reason: v1alpha1.ReasonConditionNotMet, Message: `when "int(steps.build.result) > 0" was false`},
			{Name: "report", JobName: "pipeline-2", Phase: v1alpha1.PhaseSucceeded, StartTime: at(1), CompletionTime: at(2)},
		},
		Finally: []v1alpha1.StepStatus{
			{Name: "notify", JobName: "pipeline-f0", Phase: v1alpha1.PhaseSkipped, CompletionTime: at(2),
				Reason: v1alpha1.ReasonConditionNotMet, Message: `when "run.failed" was false`},
		},
	}
	var out bytes.Buffer
	require.NoError(t, printTree(&out, sj, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	want := `SequentialJob ci/pipeline  Succeeded  2/3  attempt 1
├─ 0 build   Succeeded  1m0s  pipeline-0  result: 0
├─ 1 deploy  Skipped    -     -           skipped (ConditionNotMet): when "int(steps.build.result) > 0" was false
├─ 2 report  Succeeded  1m0s  pipeline-2  
└─ finally
   └─ 0 notify  Skipped  -  -  skipped (ConditionNotMet): when "run.failed" was false
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("status tree (-want +got):\n%s", diff)
	}
}
