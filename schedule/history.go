package schedule

import (
	"cmp"
	"slices"

	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Defaults of the history limits, CronJob's (the CRD defaults them too).
const (
	DefaultSuccessfulRunsHistoryLimit = 3
	DefaultFailedRunsHistoryLimit     = 1
)

// prune deletes the oldest finished runs beyond the history limits: the
// succeeded beyond successfulRunsHistoryLimit, the failed beyond
// failedRunsHistoryLimit, oldest (by completion) first.
func prune(c *v1alpha1.SequentialCronJob, r runs) []Deletion {
	var out []Deletion
	out = append(out, beyond(r.succeeded, ptr.Deref(c.Spec.SuccessfulRunsHistoryLimit, DefaultSuccessfulRunsHistoryLimit))...)
	out = append(out, beyond(r.failed, ptr.Deref(c.Spec.FailedRunsHistoryLimit, DefaultFailedRunsHistoryLimit))...)
	return out
}

func beyond(finished []v1alpha1.SequentialJob, limit int32) []Deletion {
	if int(limit) >= len(finished) {
		return nil
	}
	sorted := slices.Clone(finished)
	slices.SortStableFunc(sorted, func(a, b v1alpha1.SequentialJob) int {
		if c := endTime(a).Compare(endTime(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	var out []Deletion
	for _, sj := range sorted[:len(sorted)-int(max(limit, 0))] {
		out = append(out, Deletion{Name: sj.Name, UID: string(sj.UID), Reason: DeleteHistory})
	}
	return out
}
