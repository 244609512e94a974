package render_test

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// outcome is what a user sees of one render, as the policy tests
// (suspend_test.go, deadline_test.go, ...) compare it whole: the run's phase
// and conditions, the Job created, the changes to running Jobs, when the run
// is looked at again and the events, by reason.
type outcome struct {
	Phase      v1alpha1.Phase
	Conditions map[string]cond
	// Job is the name of the Job created, or "".
	Job      string
	Controls []control
	Requeue  render.Requeue
	Events   []string
	// Written is whether the status changed, so the reconciler writes it.
	Written bool
}

// cond is a condition without its times and generation.
type cond struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// control is a JobControl: suspend or resume a Job, or stop it (the Job
// API's activeDeadlineSeconds: 1).
type control struct {
	Job     string
	Suspend *bool
	Stop    bool
}

// step is a status.steps or status.finally entry as `kubectl get -o yaml`
// shows it, without its times.
type step struct {
	Name, JobName  string
	Phase          v1alpha1.Phase
	Reason         string
	Message        string
	Attempt        int32
	Result         string
	OnFailure      v1alpha1.OnFailure
	PreviousJobs   []string
	PreviousPhases []v1alpha1.Phase
}

func outcomeOf(d render.Desired) outcome {
	out := outcome{Phase: d.Status.Phase, Conditions: map[string]cond{}, Requeue: d.Requeue, Written: d.StatusChanged()}
	for _, c := range d.Status.Conditions {
		out.Conditions[c.Type] = cond{Status: c.Status, Reason: c.Reason, Message: c.Message}
	}
	if d.Job != nil {
		out.Job = *d.Job.Name
	}
	for _, c := range d.JobControls {
		ctl := control{Job: *c.Name}
		if c.Spec != nil {
			ctl.Suspend = c.Spec.Suspend
			ctl.Stop = ptr.Deref(c.Spec.ActiveDeadlineSeconds, 0) == 1
		}
		out.Controls = append(out.Controls, ctl)
	}
	for _, e := range d.Events {
		out.Events = append(out.Events, e.Reason)
	}
	return out
}

// timeOf is a status time as a comparable value, nil when unset.
func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	at := t.UTC()
	return &at
}

// at is t0 plus d, for a want's times.
func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

func stepsOf(entries []v1alpha1.StepStatus) []step {
	var out []step
	for _, e := range entries {
		s := step{Name: e.Name, JobName: e.JobName, Phase: e.Phase, Reason: e.Reason, Message: e.Message,
			Attempt: e.Attempt, Result: e.Result, OnFailure: e.OnFailure}
		for _, a := range e.PreviousAttempts {
			s.PreviousJobs = append(s.PreviousJobs, a.JobName)
			s.PreviousPhases = append(s.PreviousPhases, a.Phase)
		}
		out = append(out, s)
	}
	return out
}

// shown are the conditions of a run in one state: Failed, Progressing and
// Available always, True when listed in holds; the other conditions only
// while True. All carry the state's reason and message, except a False
// Failed, which says NoFailure and nothing more.
func shown(reason, message string, holds ...string) map[string]cond {
	out := map[string]cond{}
	for _, t := range []string{v1alpha1.ConditionFailed, v1alpha1.ConditionProgressing, v1alpha1.ConditionAvailable} {
		out[t] = cond{Status: metav1.ConditionFalse, Reason: reason, Message: message}
	}
	out[v1alpha1.ConditionFailed] = cond{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonNoFailure}
	for _, t := range holds {
		out[t] = cond{Status: metav1.ConditionTrue, Reason: reason, Message: message}
	}
	return out
}
