package schedule

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runs are a cron's SequentialJobs, sorted: active ones (not finished, not
// being deleted), finished ones, and those already being deleted.
type runs struct {
	all, active, succeeded, failed []v1alpha1.SequentialJob
}

// classify keeps the runs cron controls, by controller UID, sorted by
// name, and sorts them by state.
func classify(cron *v1alpha1.SequentialCronJob, all []v1alpha1.SequentialJob) runs {
	var r runs
	for _, sj := range all {
		owner := metav1.GetControllerOfNoCopy(&sj)
		if owner == nil || owner.UID != cron.UID {
			continue
		}
		r.all = append(r.all, sj)
	}
	slices.SortFunc(r.all, func(a, b v1alpha1.SequentialJob) int { return cmp.Compare(a.Name, b.Name) })
	for _, sj := range r.all {
		switch {
		case sj.DeletionTimestamp != nil:
		case sj.Status.Phase == v1alpha1.PhaseSucceeded:
			r.succeeded = append(r.succeeded, sj)
		case sj.Status.Phase == v1alpha1.PhaseFailed:
			r.failed = append(r.failed, sj)
		default:
			r.active = append(r.active, sj)
		}
	}
	return r
}

// has says whether a run by that name exists, in any state.
func (r runs) has(name string) bool {
	return slices.ContainsFunc(r.all, func(sj v1alpha1.SequentialJob) bool { return sj.Name == name })
}

// RunName is the name of the run of a schedule time: the cron's name and
// the time in Unix minutes, as batch/v1 CronJob names its Jobs. A
// restarted controller finds the same name for the same time.
func RunName(cronName string, scheduled time.Time) string {
	return cronName + "-" + strconv.FormatInt(scheduled.Unix()/60, 10)
}

// NewRun is a run of cron made from its template: name and namespace, the
// template's labels and annotations plus the cron's label, and the cron
// as its controller. scheduled, when not zero, is recorded in an
// annotation. `kubectl sequentialjob trigger` builds its runs with it too.
func NewRun(cron *v1alpha1.SequentialCronJob, name string, scheduled time.Time) *v1alpha1.SequentialJob {
	tmpl := cron.Spec.SequentialJobTemplate.DeepCopy()
	labels := maps.Clone(tmpl.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1alpha1.LabelSequentialCronJob] = cron.Name
	annotations := maps.Clone(tmpl.Annotations)
	if !scheduled.IsZero() {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[v1alpha1.AnnotationScheduledTime] = scheduled.UTC().Format(time.RFC3339)
	}
	return &v1alpha1.SequentialJob{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SequentialJob"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cron.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "SequentialCronJob", Name: cron.Name, UID: cron.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: tmpl.Spec,
	}
}

// reference is how status.active names a run.
func reference(sj *v1alpha1.SequentialJob) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SequentialJob",
		Namespace: sj.Namespace, Name: sj.Name, UID: sj.UID}
}

func names(sjs []v1alpha1.SequentialJob) string {
	out := ""
	for i, sj := range sjs {
		if i > 0 {
			out += ", "
		}
		out += sj.Name
	}
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
