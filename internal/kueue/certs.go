package kueue

import "example.com/sequentialjob/internal/outofcluster"

// newServing picks Kueue's local ports and makes the certificates its
// webhook server presents.
//
// Kueue's internal certificate management (cert-controller's rotator) keeps
// a CA and a serving certificate in a Secret, for the DNS name
// <webhookServiceName>.<namespace>.svc, and regenerates them when they are
// not valid for that name or expire within 90 days. Out of cluster the
// apiserver reaches the webhooks at https://127.0.0.1:<port>, so we make
// them ourselves, valid for both the service name and 127.0.0.1: the
// rotator then finds them valid and keeps them, and still injects the CA
// into the webhook configurations and CRD conversions as in a real install.
//
// The CA must be valid for the DNS name "kueue-ca" (the rotator verifies it
// against that name), and the keys PKCS#1 (the rotator parses them so):
// outofcluster.NewServingCerts makes them so for the name "kueue".
func newServing(dir string) (*outofcluster.Serving, error) {
	return outofcluster.NewServing(dir, "kueue", webhookServiceName+"."+Namespace+".svc")
}
