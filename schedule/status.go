package schedule

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// endTime is when a finished run ended: its completionTime, else its
// creation (a run that failed before it started a step).
func endTime(sj v1alpha1.SequentialJob) time.Time {
	if sj.Status.CompletionTime != nil {
		return sj.Status.CompletionTime.Time
	}
	return sj.CreationTimestamp.Time
}

// status is the whole status after the decision: the active runs (the
// created one included, Replace's deleted ones not), the last schedule and
// success times, and the conditions of the table below.
func status(c *v1alpha1.SequentialCronJob, r runs, d Decision, p *problem, spec parsed, now time.Time) v1alpha1.SequentialCronJobStatus {
	out := v1alpha1.SequentialCronJobStatus{
		ObservedGeneration: c.Generation,
		LastScheduleTime:   c.Status.LastScheduleTime,
		LastSuccessfulTime: c.Status.LastSuccessfulTime,
		Conditions:         slices.Clone(c.Status.Conditions),
	}
	for i := range r.active {
		if !slices.ContainsFunc(d.Delete, func(del Deletion) bool { return del.Name == r.active[i].Name }) {
			out.Active = append(out.Active, reference(&r.active[i]))
		}
	}
	if d.Create != nil {
		out.Active = append(out.Active, reference(d.Create))
		slices.SortFunc(out.Active, func(a, b corev1.ObjectReference) int { return cmp.Compare(a.Name, b.Name) })
	}
	if !d.scheduled.IsZero() && (out.LastScheduleTime == nil || d.scheduled.After(out.LastScheduleTime.Time)) {
		out.LastScheduleTime = &metav1.Time{Time: d.scheduled}
	}
	for _, sj := range r.succeeded {
		if t := endTime(sj); out.LastSuccessfulTime == nil || t.After(out.LastSuccessfulTime.Time) {
			out.LastSuccessfulTime = &metav1.Time{Time: t}
		}
	}
	ready := readyCondition(c, d, p, spec, now)
	ready.ObservedGeneration = c.Generation
	meta.SetStatusCondition(&out.Conditions, ready)
	if p != nil {
		meta.SetStatusCondition(&out.Conditions, metav1.Condition{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue,
			Reason: p.reason, Message: p.message, ObservedGeneration: c.Generation})
	} else {
		meta.RemoveStatusCondition(&out.Conditions, v1alpha1.ConditionStalled)
	}
	for i := range out.Conditions {
		if out.Conditions[i].LastTransitionTime.IsZero() {
			out.Conditions[i].LastTransitionTime = metav1.Time{Time: now}
		}
	}
	return out
}

// readyCondition is the table from the cron's state to its Ready
// condition: a schedule that does not parse (False, the parser's words),
// suspended, a time Forbid holds, or scheduled.
func readyCondition(c *v1alpha1.SequentialCronJob, d Decision, p *problem, spec parsed, now time.Time) metav1.Condition {
	switch {
	case p != nil:
		return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: p.reason, Message: p.message}
	case suspended(c):
		return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCronSuspended, Message: msgSuspended}
	case d.held != nil:
		return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonScheduled,
			Message: d.held.message() + fmt.Sprintf(msgNext, formatTime(spec.next(now)))}
	default:
		return metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonScheduled,
			Message: fmt.Sprintf(msgScheduled, formatTime(spec.next(now)))}
	}
}
