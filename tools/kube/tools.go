//go:build tools

// Package kube pins the control-plane binaries (kube-apiserver, etcd,
// kube-controller-manager, kube-scheduler) that the envtest and e2e tiers run.
// They are built from Go modules so no Docker image or release tarball is
// downloaded; see the Makefile target `bin`.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
