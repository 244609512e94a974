// Package soak holds the soak test (`make soak`, SOAK=60m by default): a
// steady stream of SequentialJobs on the local cluster for a given time,
// against the controller running as its own process and user, with the
// controller's figures sampled all along and every run checked once it is
// gone. See docs/reliability.md, "Soak".
//
// `go test ./...` compiles it and skips it: it runs only when
// -soak.duration is given.
package soak
