package reconciler

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// announce emits the events render computed, logs them, and counts the
// transitions in the metrics. It runs only after the status that holds them
// is written, so a failing status write announces nothing and its retry
// announces each transition once. A crash between the write and the
// announcement loses these events and samples: the next reconcile sees no
// transition left to announce.
func (r *Reconciler) announce(ctx context.Context, sj *v1alpha1.SequentialJob, desired render.Desired, observedAt time.Time) {
	logger := log.FromContext(ctx)
	for _, e := range desired.Events {
		var related runtime.Object
		if e.Job != "" {
			related = &corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: sj.Namespace, Name: e.Job}
		}
		r.Recorder.Eventf(sj, related, e.Type, e.Reason, "Reconcile", "%s", e.Message)
		logger.Info(e.Message, "event", e.Reason, "type", e.Type)
	}
	r.Metrics.observe(sj, desired, observedAt, r.Clock.Now())
}
