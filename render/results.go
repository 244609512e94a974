package render

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// truncatedMarker ends a result cut to v1alpha1.MaxResultLength.
const truncatedMarker = "...[truncated]"

// podReport is what a finished step's pods tell: the result its container
// wrote to its termination message, and, for a failure, what ended the last
// failed pod. Pods are read only as their step ends (see Preflight); when
// they are gone (deleted with their Job, or never observed), both are empty.
type podReport struct {
	result string
	detail string
}

func reportOf(container string, phase v1alpha1.Phase, pods []*corev1.Pod) podReport {
	pod := lastPod(pods, phase)
	if pod == nil {
		return podReport{}
	}
	var report podReport
	var term *corev1.ContainerStateTerminated
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == container && s.State.Terminated != nil {
			term = s.State.Terminated
		}
	}
	if term != nil {
		report.result = truncateResult(term.Message)
	}
	if phase != v1alpha1.PhaseFailed {
		return report
	}
	switch {
	case pod.Status.Reason == "Evicted":
		report.detail = fmt.Sprintf("pod %s was Evicted: %s", pod.Name, pod.Status.Message)
	case pod.Status.Reason == "DeadlineExceeded":
		report.detail = fmt.Sprintf("pod %s passed its activeDeadlineSeconds (DeadlineExceeded)", pod.Name)
	case term != nil && term.Reason == "OOMKilled":
		report.detail = fmt.Sprintf("container %s of pod %s was OOMKilled (exit code %d)", container, pod.Name, term.ExitCode)
	case term != nil && term.ExitCode != 0:
		report.detail = fmt.Sprintf("container %s of pod %s exited with code %d", container, pod.Name, term.ExitCode)
		if term.Reason != "" {
			report.detail += " (" + term.Reason + ")"
		}
	case pod.Status.Reason != "":
		report.detail = fmt.Sprintf("pod %s failed: %s %s", pod.Name, pod.Status.Reason, pod.Status.Message)
	}
	return report
}

// lastPod is the pod that tells how the step ended: the latest one in the
// step's phase (the pod that succeeded, or the last that failed), else the
// latest of any phase.
func lastPod(pods []*corev1.Pod, phase v1alpha1.Phase) *corev1.Pod {
	want := corev1.PodFailed
	if phase == v1alpha1.PhaseSucceeded {
		want = corev1.PodSucceeded
	}
	sorted := slices.Clone(pods)
	slices.SortStableFunc(sorted, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := len(sorted) - 1; i >= 0; i-- {
		if sorted[i].Status.Phase == want {
			return sorted[i]
		}
	}
	if len(sorted) == 0 {
		return nil
	}
	return sorted[len(sorted)-1]
}

// truncateResult keeps a result within v1alpha1.MaxResultLength bytes, cut
// at a character boundary and marked, so status always admits it.
func truncateResult(msg string) string {
	if len(msg) <= v1alpha1.MaxResultLength {
		return msg
	}
	cut := v1alpha1.MaxResultLength - len(truncatedMarker)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + truncatedMarker
}

// ResultEnvName is the environment variable through which later steps read
// step's result: SQJ_RESULT_<NAME>, NAME being the step's name in upper case
// with "-" as "_". Step names are DNS labels, so the rule gives every step
// its own valid variable name.
func ResultEnvName(step string) string {
	return v1alpha1.ResultEnvPrefix + strings.ToUpper(strings.ReplaceAll(step, "-", "_"))
}

// namedResult is an earlier step's result, handed to a later step.
type namedResult struct {
	step, result string
}

// resultsBefore are the results of the entries that come before ref in the
// run: every step before it, and for a finally step every step of the run
// plus the finally steps before it.
func resultsBefore(steps, finally []v1alpha1.StepStatus, ref slot) []namedResult {
	var earlier []v1alpha1.StepStatus
	if ref.finally {
		earlier = append(slices.Clone(steps), finally[:min(ref.index, len(finally))]...)
	} else {
		earlier = steps[:min(ref.index, len(steps))]
	}
	var out []namedResult
	for _, step := range earlier {
		if step.Result != "" && step.Name != "" {
			out = append(out, namedResult{step: step.Name, result: step.Result})
		}
	}
	return out
}
