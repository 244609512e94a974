// Package localcluster starts a local Kubernetes cluster in which Jobs really
// run, from the binaries `make bin` builds into bin/ (nothing is downloaded,
// no Docker):
//
//   - etcd and kube-apiserver, through controller-runtime's envtest;
//   - kube-controller-manager with the job, garbagecollector, namespace,
//     serviceaccount, serviceaccount-token and ttl-after-finished controllers;
//   - kube-scheduler;
//   - kwok, out of cluster, with one fake node and the Stages in stages/,
//     which run every Job pod for a simulated duration and exit code
//     (AnnotationDuration, AnnotationExitCode).
//
// `sequentialjob local run` (make run) and the e2e tests use it. It is
// product code, not test support; it builds on Linux only (process groups,
// Pdeathsig, flock and /proc), so every file but this one and annotations.go
// carries a linux build constraint.
package localcluster
