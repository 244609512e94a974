// Package e2e holds the end-to-end tests: the controller against a local
// cluster (internal/localcluster) in which Jobs really run, their pods played by
// kwok. `go test ./test/e2e/` builds the controller from this checkout and
// needs the binaries of `make bin`; one cluster serves every test, each in its
// own namespace.
package e2e
