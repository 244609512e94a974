package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// JobName is the deterministic name of the first attempt's Job of entry
// index of status.steps: "<sj>-<index>".
// Deterministic names make creation through apply an upsert, so a stale cache
// or a restarted controller cannot create a second Job for a step.
func JobName(sjName string, index int) string {
	return StepJobName(sjName, false, index, 1)
}

// StepJobName is the name of the Job of one attempt of one entry:
// "<sj>-<index>" for status.steps, "<sj>-f<index>" for status.finally, and
// "-r<attempt>" after either from the second attempt (a retry) on. No two
// entries or attempts share a name, and no other SequentialJob's Jobs can
// take it: their names end in "-<digits>" after the SequentialJob's name.
//
// A CEL rule keeps SequentialJob names short enough for "-<index>"; longer
// names (stored before that rule, or with a finally or retry suffix) are
// shortened with a hash so they stay unique within 63 characters.
func StepJobName(sjName string, finally bool, index int, attempt int32) string {
	suffix := "-" + strconv.Itoa(index)
	if finally {
		suffix = "-f" + strconv.Itoa(index)
	}
	if attempt > 1 {
		suffix += "-r" + strconv.Itoa(int(attempt))
	}
	if len(sjName)+len(suffix) <= v1alpha1.MaxJobNameLength {
		return sjName + suffix
	}
	sum := sha256.Sum256([]byte(sjName))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	return sjName[:v1alpha1.MaxJobNameLength-len(hash)-len(suffix)] + hash + suffix
}

// stepLabels are the labels of an entry's Job and pods: they name the step,
// its list and its attempt, so a Job created just before a crash is
// recognised.
func stepLabels(sj *v1alpha1.SequentialJob, ref slot, stepName string) map[string]string {
	labels := map[string]string{
		v1alpha1.LabelSequentialJob: sj.Name,
		v1alpha1.LabelStepIndex:     strconv.Itoa(ref.index),
		v1alpha1.LabelStepName:      stepName,
	}
	if ref.finally {
		labels[v1alpha1.LabelFinally] = "true"
	}
	if ref.attempt > 1 {
		labels[v1alpha1.LabelStepAttempt] = strconv.Itoa(int(ref.attempt))
	}
	return labels
}

// slot is one attempt of one entry: which list, which index, which attempt.
type slot struct {
	finally bool
	index   int
	attempt int32
}

func (s slot) jobName(sjName string) string {
	return StepJobName(sjName, s.finally, s.index, s.attempt)
}

// attemptOf is the attempt an entry records, or will run as: 1 until a
// retry re-opens it.
func attemptOf(step v1alpha1.StepStatus) int32 {
	return max(step.Attempt, 1)
}
