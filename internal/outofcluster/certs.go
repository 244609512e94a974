package outofcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Certs is a CA and a webhook serving certificate it signed, PEM encoded.
type Certs struct {
	CACert, CAKey, Cert, Key []byte
}

// NewServingCerts makes a CA named <name>-ca and a serving certificate it
// signed, valid for 127.0.0.1, where the apiserver reaches an out-of-cluster
// webhook server, and for dnsNames (its common name is the first of them,
// else 127.0.0.1). They are valid for years: they outlive any run.
//
// The CA is also valid for the DNS name <name>-ca, and the keys are PKCS#1:
// cert-controller's rotator (Kueue's internal certificate management)
// verifies a CA it is given against that name and parses the keys so, and
// replaces certificates it cannot.
func NewServingCerts(name string, dnsNames ...string) (*Certs, error) {
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + "-ca", Organization: []string{name}},
		DNSNames:              []string{name + "-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	commonName := "127.0.0.1"
	if len(dnsNames) > 0 {
		commonName = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: commonName},
		DNSNames:              dnsNames,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &Certs{
		CACert: pemBlock("CERTIFICATE", caDER),
		CAKey:  pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(caKey)),
		Cert:   pemBlock("CERTIFICATE", der),
		Key:    pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)),
	}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// CABundle is the CA as a webhook configuration's caBundle.
func (c *Certs) CABundle() string {
	return base64.StdEncoding.EncodeToString(c.CACert)
}

// WriteServing writes tls.crt and tls.key into dir, where
// controller-runtime's webhook server looks for them: in a pod the Secret
// is mounted there; out of cluster we write it.
func (c *Certs) WriteServing(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), c.Cert, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), c.Key, 0o600)
}

// Serving is where an out-of-cluster manager serves: its webhook server on
// 127.0.0.1:WebhookPort with the certificates in CertDir, its health probes
// on HealthAddr.
type Serving struct {
	WebhookPort int
	HealthAddr  string
	CertDir     string
	Certs       *Certs
}

// NewServing picks two free local ports and writes serving certificates
// (NewServingCerts(name, dnsNames...)) into dir/certs.
func NewServing(dir, name string, dnsNames ...string) (*Serving, error) {
	webhookPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	healthPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	certs, err := NewServingCerts(name, dnsNames...)
	if err != nil {
		return nil, err
	}
	s := &Serving{
		WebhookPort: webhookPort,
		HealthAddr:  loopback(healthPort),
		CertDir:     filepath.Join(dir, "certs"),
		Certs:       certs,
	}
	return s, certs.WriteServing(s.CertDir)
}

// WebhookAddr is the webhook server's host:port.
func (s *Serving) WebhookAddr() string { return loopback(s.WebhookPort) }

// WebhookURL is the base of the webhooks' clientConfig.url.
func (s *Serving) WebhookURL() string { return "https://" + s.WebhookAddr() }

// FreePort returns a local TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }() // only a probe for a free port
	return l.Addr().(*net.TCPAddr).Port, nil
}

func loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
