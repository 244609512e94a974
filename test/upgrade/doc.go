// Package upgrade holds the upgrade test: SequentialJobs started by the
// controller of a pinned earlier commit (UPGRADE_FROM in the Makefile, built
// by `make upgrade-from` into bin/), taken over mid-run by the current
// controller after the new CRD is applied, and compared with fresh runs of
// the same specs; then the reverse, a downgrade. See docs/upgrades.md.
//
// `go test ./test/upgrade/` runs the short version (6 runs of 3 steps);
// `make test-upgrade` the full one (30 runs of 5 steps).
package upgrade
