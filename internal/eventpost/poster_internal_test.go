package eventpost

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
)

// TestRetriable: an event post is retried when the apiserver answers with a
// transient error or does not answer at all (make chaos lost events to
// stream resets), and not when it refuses the event.
func TestRetriable(t *testing.T) {
	events := schema.GroupResource{Group: "events.k8s.io", Resource: "events"}
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"HTTP/2 stream reset":   {&url.Error{Op: "Post", URL: "https://apiserver/apis/events.k8s.io/v1", Err: errors.New("stream error: stream ID 5; INTERNAL_ERROR")}, true},
		"connection reset":      {&url.Error{Op: "Post", Err: errors.New("read: connection reset by peer")}, true},
		"500":                   {apierrors.NewInternalError(errors.New("boom")), true},
		"429":                   {apierrors.NewTooManyRequests("slow down", 1), true},
		"timeout":               {apierrors.NewTimeoutError("timeout", 1), true},
		"invalid":               {apierrors.NewInvalid(schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, "e", nil), false},
		"forbidden":             {apierrors.NewForbidden(events, "e", errors.New("no")), false},
		"namespace terminating": {apierrors.NewForbidden(events, "e", errors.New("namespace is being terminated")), false},
	} {
		assert.Equal(t, tc.want, retriable(tc.err), name)
	}
}

// TestStopPostsWhatWasRecorded: events recorded before the manager stops
// are still posted: their transitions are in status, so no later
// controller would announce them.
func TestStopPostsWhatWasRecorded(t *testing.T) {
	clientset := fake.NewClientset()
	p := &eventPoster{client: clientset.EventsV1(), queue: make(chan *eventsv1.Event, eventQueueSize)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the manager is stopping before a writer took anything
	for i := range 20 {
		p.queue <- &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("e%d", i)}, Reason: "StepStarted"}
	}
	require.NoError(t, p.Start(ctx))
	list, err := clientset.EventsV1().Events("default").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 20)
	assert.Empty(t, p.queue)
}
