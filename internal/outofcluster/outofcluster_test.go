package outofcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The serving certificate verifies, with the CA, for 127.0.0.1 and the DNS
// names given; the CA for <name>-ca (what Kueue's rotator checks).
func TestNewServingCerts(t *testing.T) {
	certs, err := NewServingCerts("kueue", "kueue-webhook-service.kueue-system.svc")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.CACert)
	ca, cert := parseCert(t, certs.CACert), parseCert(t, certs.Cert)
	for _, name := range []string{"127.0.0.1", "kueue-webhook-service.kueue-system.svc"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: pool, DNSName: "kueue-ca"}); err != nil {
		t.Errorf("CA for kueue-ca: %v", err)
	}
	if cert.Subject.CommonName != "kueue-webhook-service.kueue-system.svc" {
		t.Errorf("common name %q", cert.Subject.CommonName)
	}
	if _, err := tls.X509KeyPair(certs.Cert, certs.Key); err != nil {
		t.Error(err)
	}

	ipOnly, err := NewServingCerts("jobset")
	if err != nil {
		t.Fatal(err)
	}
	if c := parseCert(t, ipOnly.Cert); c.Subject.CommonName != "127.0.0.1" || len(c.DNSNames) != 0 {
		t.Errorf("without DNS names: common name %q, DNS names %v", c.Subject.CommonName, c.DNSNames)
	}
}

// WaitReady returns once /readyz answers and the webhook server presents a
// certificate of our CA; it fails at once when healthy does.
func TestWaitReady(t *testing.T) {
	s, err := NewServing(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(s.CertDir, "tls.crt"), filepath.Join(s.CertDir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	webhook, err := tls.Listen("tcp", s.WebhookAddr(), &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	health, err := net.Listen("tcp", s.HealthAddr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	for _, l := range []net.Listener{webhook, health} {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	}

	ctx := context.Background()
	if err := WaitReady(ctx, s.HealthAddr, s.WebhookAddr(), s.Certs.CACert, 10*time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	exited := errors.New("exited")
	if err := WaitReady(ctx, s.HealthAddr, s.WebhookAddr(), s.Certs.CACert, 10*time.Second, func() error { return exited }); !errors.Is(err, exited) {
		t.Fatalf("got %v, want %v", err, exited)
	}
}

// A Process writes its log file, reports its exit through Healthy, and
// Stop ends it.
func TestProcess(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sleep.log")
	p, err := StartProcess("sh", exec.Command("sh", "-c", "echo started; exec sleep 60"), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Healthy(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(log); len(data) > 0 || time.Now().After(deadline) {
			break
		}
	}
	p.Stop()
	p.Stop()
	err = p.Healthy()
	if err == nil || !strings.Contains(err.Error(), "sh exited") || !strings.Contains(err.Error(), log) {
		t.Fatalf("Healthy after Stop: %v", err)
	}
	data, err := os.ReadFile(log)
	if err != nil || string(data) != "started\n" {
		t.Fatalf("log %q, %v", data, err)
	}
	var none *Process
	none.Stop()
	if err := none.Healthy(); err != nil {
		t.Fatal(err)
	}
}
