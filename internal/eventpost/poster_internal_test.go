package eventpost

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
