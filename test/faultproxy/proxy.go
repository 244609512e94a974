// Package faultproxy is an HTTPS reverse proxy that sits between a
// Kubernetes client and kube-apiserver and makes a share of the requests
// fail the ways a control plane under stress fails: 500s, conflicts,
// throttling, requests that hang and then die, and writes that the
// apiserver applied but whose answer was lost. Watches pass through (the
// client would only re-list otherwise), but some are cut mid-stream, as an
// apiserver restart or a load balancer would.
//
// The chaos tests point the controller's kubeconfig at it. The proxy
// terminates TLS with its own self-signed certificate (CA()) and forwards
// each request, with the client's own Authorization header, to the
// apiserver; so it works with bearer-token credentials, not with client
// certificates (the proxy cannot present those).
package faultproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fault is what the proxy did to one request.
type Fault string

const (
	// Error500 answers 500 without forwarding.
	Error500 Fault = "500"
	// Conflict409 answers 409 Conflict without forwarding, to updates,
	// patches and deletes only: a read never conflicts, and a create's 409
	// is AlreadyExists.
	Conflict409 Fault = "409"
	// Throttle429 answers 429 with Retry-After: 1 without forwarding.
	// client-go retries these by itself, as it would against a busy
	// apiserver's priority and fairness.
	Throttle429 Fault = "429"
	// Timeout holds the request for up to Options.MaxHang, without
	// forwarding it, and then resets it: the client sees no answer.
	Timeout Fault = "timeout"
	// AppliedThen500 forwards a write, discards the apiserver's answer and
	// answers 500: the write happened, the client believes it failed.
	AppliedThen500 Fault = "applied+500"
	// WatchCut passes a watch through and cuts it after a random time up
	// to Options.MaxWatch.
	WatchCut Fault = "watch-cut"
)

// Options configure Start.
type Options struct {
	// Upstream is the apiserver's URL, and UpstreamCA the PEM certificate
	// that verifies it.
	Upstream   string
	UpstreamCA []byte
	// Rate is the share of requests that get a fault, 0 to 1, watches
	// aside.
	Rate float64
	// WatchCutRate is the share of watches cut. A client opens few
	// watches, each for minutes, so the rate of other requests would
	// hardly ever cut one.
	WatchCutRate float64
	// Seed seeds the choice of faults. Requests arrive concurrently, so a
	// seed reproduces the sequence of decisions, not which request gets
	// which.
	Seed uint64
	// MaxHang bounds a Timeout fault; default 5s.
	MaxHang time.Duration
	// MaxWatch bounds the life of a cut watch (at least a tenth of it);
	// default 10s.
	MaxWatch time.Duration
}

// Proxy is a running fault proxy.
type Proxy struct {
	// URL is where clients connect, https://127.0.0.1:<port>.
	URL string

	opts   Options
	ca     []byte
	server *http.Server
	rp     *httputil.ReverseProxy

	mu       sync.Mutex
	rnd      *rand.Rand
	enabled  bool
	requests int
	faults   map[Fault]int
}

// Start listens on a free local port and serves until Close.
func Start(opts Options) (*Proxy, error) {
	target, err := url.Parse(opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: upstream: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(opts.UpstreamCA) {
		return nil, errors.New("faultproxy: no certificate in UpstreamCA")
	}
	if opts.MaxHang <= 0 {
		opts.MaxHang = 5 * time.Second
	}
	if opts.MaxWatch <= 0 {
		opts.MaxWatch = 10 * time.Second
	}
	cert, caPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		URL:     "https://" + l.Addr().String(),
		opts:    opts,
		ca:      caPEM,
		rnd:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		enabled: true,
		faults:  map[Fault]int{},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 100,
		},
		// Watch events must reach the client as they come.
		FlushInterval: -1,
		// The default logs every cut watch and every request that failed
		// while the apiserver restarted: noise, not news.
		ErrorLog: quietLog(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				// A cut watch, or a client that left: reset, never a
				// clean empty answer.
				panic(http.ErrAbortHandler)
			}
			writeStatus(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, "faultproxy: upstream: "+err.Error())
		},
	}
	p.server = &http.Server{
		Handler:           p,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quietLog(),
	}
	go func() { _ = p.server.ServeTLS(l, "", "") }()
	return p, nil
}

// CA is the PEM certificate that verifies the proxy: put it in the
// client's kubeconfig as certificate-authority-data.
func (p *Proxy) CA() []byte { return p.ca }

// SetEnabled turns fault injection on or off; off, the proxy only forwards.
func (p *Proxy) SetEnabled(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enabled = on
}

// Stats are the requests seen and the faults injected so far.
type Stats struct {
	Requests int
	Faults   map[Fault]int
}

// Total is the number of faults injected.
func (s Stats) Total() int {
	n := 0
	for _, c := range s.Faults {
		n += c
	}
	return n
}

// String lists the faults by kind, in a stable order.
func (s Stats) String() string {
	kinds := make([]string, 0, len(s.Faults))
	for f, n := range s.Faults {
		kinds = append(kinds, fmt.Sprintf("%s:%d", f, n))
	}
	sort.Strings(kinds)
	return strings.Join(kinds, " ")
}

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Requests: p.requests, Faults: map[Fault]int{}}
	for f, n := range p.faults {
		s.Faults[f] = n
	}
	return s
}

// Close stops listening and ends every request in flight, watches included.
func (p *Proxy) Close() error { return p.server.Close() }

// ServeHTTP forwards r, or injects the fault drawn for it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	watch := isWatch(r)
	fault, hold := p.draw(r, watch)
	switch fault {
	case "":
		p.rp.ServeHTTP(w, r)
	case WatchCut:
		ctx, cancel := context.WithTimeout(r.Context(), hold)
		defer cancel()
		p.rp.ServeHTTP(w, r.WithContext(ctx))
		// The reverse proxy may end the response cleanly when its
		// upstream read stops: reset it, so the client sees a cut.
		if ctx.Err() != nil {
			panic(http.ErrAbortHandler)
		}
	case Error500:
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "faultproxy: injected internal error")
	case Conflict409:
		writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, "faultproxy: injected conflict: the object has been modified; please apply your changes to the latest version and try again")
	case Throttle429:
		w.Header().Set("Retry-After", "1")
		writeStatus(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, "faultproxy: injected throttling")
	case Timeout:
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
		}
		// No answer at all: the connection (HTTP/1.1) or the stream
		// (HTTP/2) is reset.
		panic(http.ErrAbortHandler)
	case AppliedThen500:
		p.rp.ServeHTTP(&discard{header: http.Header{}}, r)
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "faultproxy: injected internal error after the write was applied")
	}
}

// draw decides the request's fault, counts it, and returns how long a
// Timeout hangs or a cut watch lives.
func (p *Proxy) draw(r *http.Request, watch bool) (Fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	rate := p.opts.Rate
	if watch {
		rate = p.opts.WatchCutRate
	}
	if !p.enabled || p.rnd.Float64() >= rate {
		return "", 0
	}
	var f Fault
	var hold time.Duration
	switch {
	case watch:
		// At least a tenth of MaxWatch: a watch cut before its first
		// event is just a failed request.
		f, hold = WatchCut, p.opts.MaxWatch/10+time.Duration(p.rnd.Int64N(int64(p.opts.MaxWatch)))*9/10
	case r.Method == http.MethodPost:
		// A create does not conflict on a resourceVersion; its 409 is
		// AlreadyExists, which would be a lie about the object.
		f = []Fault{Error500, Throttle429, Timeout, AppliedThen500}[p.rnd.IntN(4)]
	case isWrite(r):
		f = []Fault{Error500, Conflict409, Throttle429, Timeout, AppliedThen500}[p.rnd.IntN(5)]
	default:
		f = []Fault{Error500, Throttle429, Timeout}[p.rnd.IntN(3)]
	}
	if f == Timeout {
		hold = time.Duration(p.rnd.Int64N(int64(p.opts.MaxHang)))
	}
	p.faults[f]++
	return f, hold
}

func isWatch(r *http.Request) bool {
	v := r.URL.Query().Get("watch")
	return v == "true" || v == "1"
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// writeStatus answers with a metav1.Status, as the apiserver does, so that
// client-go turns it into the same typed error.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(st)
}

// discard receives the apiserver's answer to a write whose answer the
// client must not see.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}
