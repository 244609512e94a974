// Package eventpost records events.k8s.io Events for a controller-runtime
// manager, posting each one itself: infrastructure, not a decision of the
// controller.
package eventpost

import (
	"context"
	"errors"
	"sync"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// eventQueueSize bounds the events waiting to be posted. Beyond it an event
// is dropped (and logged): events are a report, never a reason to block a
// reconcile or to grow without bound.
const eventQueueSize = 4096

// eventWriters post events in parallel.
const eventWriters = 4

// eventPoster records events.k8s.io Events through client-go's events
// broadcaster and recorder, but posts each event itself. The broadcaster's
// own sink keeps every event in memory for six minutes, to fold repeats
// into a series; every event here names a different object version, so
// nothing ever folds, and with 5,000 runs that cache held about 50 MB.
type eventPoster struct {
	client eventsv1client.EventsV1Interface
	queue  chan *eventsv1.Event
}

// NewRecorder returns a recorder whose events are posted once the manager
// starts.
func NewRecorder(mgr manager.Manager, reportingController string) (events.EventRecorder, error) {
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.ContentType = runtime.ContentTypeProtobuf // a built-in type
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	poster := &eventPoster{client: clientset.EventsV1(), queue: make(chan *eventsv1.Event, eventQueueSize)}
	// The broadcaster's own sink is never started (no StartRecordingToSink):
	// poster.enqueue is its only watcher.
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: clientset.EventsV1()})
	if _, err := broadcaster.StartEventWatcher(poster.enqueue); err != nil {
		return nil, err
	}
	if err := mgr.Add(poster); err != nil {
		return nil, err
	}
	return broadcaster.NewRecorder(mgr.GetScheme(), reportingController), nil
}

func (p *eventPoster) enqueue(obj runtime.Object) {
	event, ok := obj.(*eventsv1.Event)
	if !ok {
		return
	}
	select {
	case p.queue <- event:
	default:
		log.Log.Error(nil, "Dropped an event: too many waiting to be posted", "reason", event.Reason, "note", event.Note)
	}
}

// drainTimeout bounds how long a stopping controller goes on posting the
// events it had already recorded. Their reconciles wrote the status that
// holds their transitions, so no later controller announces them again:
// an event not posted now is lost (the upgrade test lost some this way).
const drainTimeout = 5 * time.Second

// Start posts events until the manager stops, then posts what is still
// queued, for at most drainTimeout.
func (p *eventPoster) Start(ctx context.Context) error {
	posting, stopPosting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPosting()
	var writers sync.WaitGroup
	for range eventWriters {
		writers.Go(func() { p.post(ctx, posting) })
	}
	<-ctx.Done()
	drainEnd := time.AfterFunc(drainTimeout, stopPosting)
	defer drainEnd.Stop()
	writers.Wait()
	return nil
}

// NeedLeaderElection is false: a replica waiting for leadership records
// nothing, and one that lost it still posts what it had recorded.
func (p *eventPoster) NeedLeaderElection() bool { return false }

// post posts queued events with posting's context until stop is done, then
// the ones still queued, until the queue is empty or posting ends.
func (p *eventPoster) post(stop, posting context.Context) {
	for {
		select {
		case event := <-p.queue:
			p.postOne(posting, event)
		case <-stop.Done():
			for posting.Err() == nil {
				select {
				case event := <-p.queue:
					p.postOne(posting, event)
				default:
					return
				}
			}
			return
		}
	}
}

// postOne creates one event, retrying what clears up by itself.
func (p *eventPoster) postOne(ctx context.Context, event *eventsv1.Event) {
	for attempt := 1; ; attempt++ {
		_, err := p.client.Events(event.Namespace).Create(ctx, event, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || ctx.Err() != nil {
			return
		}
		if attempt == 3 || !retriable(err) {
			log.FromContext(ctx).Error(err, "Could not post an event", "reason", event.Reason, "note", event.Note)
			return
		}
		time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
	}
}

// retriable errors clear up by themselves: the apiserver's transient
// answers, and no answer at all (a connection reset, an HTTP/2 stream
// error, EOF), which the apiserver may not even have seen. A retry is safe
// either way: the event's name is fixed when it is recorded, so a create
// that was applied answers AlreadyExists, which counts as posted.
func retriable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err)
}
