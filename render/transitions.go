package render

import (
	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Transition is one change of a step, or of the run, between two statuses.
// It is computed once, here; events, metrics and the progress output of
// `sequentialjob local run` all consume it.
type Transition struct {
	// Step is the step's name; empty for the run itself.
	Step string `json:"step,omitempty"`
	// Index is the step's entry in status.steps, or in status.finally
	// when Finally is true; -1 for the run.
	Index   int            `json:"index"`
	Finally bool           `json:"finally,omitempty"`
	JobName string         `json:"jobName,omitempty"`
	From    v1alpha1.Phase `json:"from"`
	To      v1alpha1.Phase `json:"to"`
	// Reason and Message are the step's (or the run's failure) after the
	// change. A pending step whose reason changes (it waits for something,
	// or stops waiting) is a transition from Pending to Pending.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Started is true when the step's Job was created within this change:
	// from an entry that never started (Pending, or one that failed before
	// its Job was made and is retried now) to Running or Queued, or
	// straight to Succeeded or Failed
	// when the status that would have said so was never written (a failed
	// write, a crash). Its start is announced all the same.
	Started bool `json:"started,omitempty"`
}

// IsRun is true for the run's own transition.
func (t Transition) IsRun() bool { return t.Index < 0 }

// Transitions lists the changes from old to new: steps in entry order,
// then the run. A step is matched by its entry and name, so pending steps
// that an edit moved are not mistaken for changes.
func Transitions(old, new v1alpha1.SequentialJobStatus) []Transition {
	out := entryTransitions(old.Steps, new.Steps, false, nil)
	out = entryTransitions(old.Finally, new.Finally, true, out)
	if old.Phase != new.Phase {
		t := Transition{Index: -1, From: old.Phase, To: new.Phase}
		if new.Phase == v1alpha1.PhaseFailed {
			t.Reason = new.Progress.FailureReason
		}
		out = append(out, t)
	}
	return out
}

func entryTransitions(old, new []v1alpha1.StepStatus, finally bool, out []Transition) []Transition {
	for i, step := range new {
		before := v1alpha1.StepStatus{Phase: v1alpha1.PhasePending}
		if i < len(old) && old[i].Name == step.Name && old[i].JobName == step.JobName {
			before = old[i]
		}
		if before.Phase == step.Phase && (step.Phase != v1alpha1.PhasePending || before.Reason == step.Reason) {
			continue
		}
		out = append(out, Transition{Step: step.Name, Index: i, Finally: finally, JobName: step.JobName, From: before.Phase, To: step.Phase,
			Reason: step.Reason, Message: step.Message,
			Started: before.StartTime == nil && step.Phase != v1alpha1.PhasePending && step.StartTime != nil})
	}
	return out
}

// Entry is the transition's entry in status.
func (t Transition) Entry(status v1alpha1.SequentialJobStatus) v1alpha1.StepStatus {
	entries := status.Steps
	if t.Finally {
		entries = status.Finally
	}
	if t.Index < 0 || t.Index >= len(entries) {
		return v1alpha1.StepStatus{}
	}
	return entries[t.Index]
}
