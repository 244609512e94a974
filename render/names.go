package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Labels and annotations the controller puts on every step Job and its pods.
const (
	// LabelSequentialJob carries the owning SequentialJob's name. The
	// controller lists and caches Jobs by it.
	LabelSequentialJob = "batch.example.com/sequentialjob"
	// LabelStepIndex carries the step's index in spec.containers.
	LabelStepIndex = "batch.example.com/step-index"
	// LabelStepName carries the step's container name.
	LabelStepName = "batch.example.com/step-name"
	// AnnotationSpecGeneration records the SequentialJob generation a Job was
	// rendered from, so a spec change mid-run can be traced per step.
	AnnotationSpecGeneration = "batch.example.com/spec-generation"
)

// maxJobNameLength is 63, not 253: the Job controller copies the Job name
// into the batch.kubernetes.io/job-name label of every pod.
const maxJobNameLength = 63

// JobName is the deterministic name of step index's Job: "<sj>-<index>".
// Deterministic names make creation through apply an upsert, so a stale cache
// or a restarted controller cannot create a second Job for a step.
//
// A CEL rule keeps SequentialJob names short enough; names stored before
// that rule existed are shortened with a hash suffix so they stay unique.
func JobName(sjName string, index int) string {
	suffix := "-" + strconv.Itoa(index)
	if len(sjName)+len(suffix) <= maxJobNameLength {
		return sjName + suffix
	}
	sum := sha256.Sum256([]byte(sjName))
	hash := "-" + hex.EncodeToString(sum[:])[:8]
	return sjName[:maxJobNameLength-len(hash)-len(suffix)] + hash + suffix
}

// stepLabels are the labels of step index's Job and pods.
func stepLabels(sj *v1alpha1.SequentialJob, index int, stepName string) map[string]string {
	return map[string]string{
		LabelSequentialJob: sj.Name,
		LabelStepIndex:     strconv.Itoa(index),
		LabelStepName:      stepName,
	}
}
