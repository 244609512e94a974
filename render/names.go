package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// JobName is the deterministic name of the Job of entry index of
// status.steps: "<sj>-<index>".
// Deterministic names make creation through apply an upsert, so a stale cache
// or a restarted controller cannot create a second Job for a step.
//
// A CEL rule keeps SequentialJob names short enough; names stored before
// that rule existed are shortened with a hash suffix so they stay unique.
func JobName(sjName string, index int) string {
	suffix := "-" + strconv.Itoa(index)
	if len(sjName)+len(suffix) <= v1alpha1.MaxJobNameLength {
		return sjName + suffix
	}
	sum := sha256.Sum256([]byte(sjName))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	return sjName[:v1alpha1.MaxJobNameLength-len(hash)-len(suffix)] + hash + suffix
}

// stepLabels are the labels of entry index's Job and pods: they name the
// step, so a Job created just before a crash is recognised.
func stepLabels(sj *v1alpha1.SequentialJob, index int, stepName string) map[string]string {
	return map[string]string{
		v1alpha1.LabelSequentialJob: sj.Name,
		v1alpha1.LabelStepIndex:     strconv.Itoa(index),
		v1alpha1.LabelStepName:      stepName,
	}
}
