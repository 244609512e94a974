package faultproxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstream is a TLS server that counts the requests that reach it and
// streams a "watch" until the client goes away.
func upstream(t *testing.T, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if isWatch(r) {
			w.WriteHeader(http.StatusOK)
			for {
				if _, err := io.WriteString(w, "{}\n"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		_, _ = io.WriteString(w, "ok "+r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func start(t *testing.T, srv *httptest.Server, rate float64) (*Proxy, *http.Client) {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	p, err := Start(Options{Upstream: srv.URL, UpstreamCA: ca, Rate: rate, WatchCutRate: rate, Seed: 1, MaxHang: 20 * time.Millisecond, MaxWatch: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(p.CA()))
	return p, &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

// With no faults the proxy forwards, credentials included.
func TestForwards(t *testing.T) {
	var hits atomic.Int64
	p, c := start(t, upstream(t, &hits), 0)
	req, err := http.NewRequest(http.MethodGet, p.URL+"/api/v1/pods", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer token")
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok Bearer token", string(body))
}

// Every update gets a fault at rate 1, of every kind; only an
// applied-then-500 reaches the apiserver, and its client still sees 500.
func TestWriteFaults(t *testing.T) {
	var hits atomic.Int64
	p, c := start(t, upstream(t, &hits), 1)
	codes := map[int]int{}
	resets := 0
	for range 200 {
		req, err := http.NewRequest(http.MethodPatch, p.URL+"/api/v1/namespaces/x/pods/y", strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := c.Do(req)
		if err != nil {
			resets++
			continue
		}
		_ = resp.Body.Close()
		codes[resp.StatusCode]++
	}
	s := p.Stats()
	assert.Equal(t, 200, s.Requests)
	assert.Equal(t, 200, s.Total())
	for _, f := range []Fault{Error500, Conflict409, Throttle429, Timeout, AppliedThen500} {
		assert.Positive(t, s.Faults[f], "fault %s injected", f)
	}
	assert.Equal(t, int64(s.Faults[AppliedThen500]), hits.Load(), "only applied writes reach the apiserver")
	assert.Equal(t, s.Faults[Timeout], resets, "a timeout ends without an answer")
	assert.Equal(t, s.Faults[Error500]+s.Faults[AppliedThen500], codes[http.StatusInternalServerError])
	assert.Equal(t, s.Faults[Conflict409], codes[http.StatusConflict])
	assert.Equal(t, s.Faults[Throttle429], codes[http.StatusTooManyRequests])
}

// A read never gets a conflict nor is applied; a create never conflicts.
func TestReadAndCreateFaults(t *testing.T) {
	var hits atomic.Int64
	p, c := start(t, upstream(t, &hits), 1)
	for range 50 {
		if resp, err := c.Get(p.URL + "/api/v1/pods"); err == nil {
			_ = resp.Body.Close()
		}
	}
	s := p.Stats()
	assert.Zero(t, s.Faults[Conflict409]+s.Faults[AppliedThen500])
	assert.Zero(t, hits.Load())
	for range 50 {
		if resp, err := c.Post(p.URL+"/api/v1/namespaces/x/pods", "application/json", strings.NewReader("{}")); err == nil {
			_ = resp.Body.Close()
		}
	}
	s = p.Stats()
	assert.Zero(t, s.Faults[Conflict409])
	assert.Positive(t, s.Faults[AppliedThen500])
}

// A watch streams through the proxy, and a cut one ends early, mid-stream.
func TestWatch(t *testing.T) {
	var hits atomic.Int64
	for _, rate := range []float64{0, 1} {
		p, c := start(t, upstream(t, &hits), rate)
		c.Timeout = time.Second
		resp, err := c.Get(p.URL + "/api/v1/pods?watch=true")
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		assert.Error(t, err, "rate %v: the stream ends in error (cut, or the client's timeout)", rate)
		if rate == 0 {
			assert.Contains(t, err.Error(), "Client.Timeout", "an uncut watch lasts until the client leaves")
			assert.Greater(t, n, int64(30), "events flow as they come")
		} else {
			assert.NotContains(t, err.Error(), "Client.Timeout", "a cut watch ends before the client leaves")
			assert.Equal(t, 1, p.Stats().Faults[WatchCut])
		}
	}
}
