//go:build linux

package upgrade

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// previousRelease is the pinned earlier commit and what `make upgrade-from`
// built of it.
type previousRelease struct {
	// Commit is the short (7) hash, as the Makefile names the binaries.
	Commit string
	// Controller and CLI are bin/sequentialjob-controller-<commit> and
	// bin/sequentialjob-<commit>.
	Controller, CLI string
	// Tree is the commit's source, unpacked into .local/: its CRD and RBAC.
	Tree string
}

func (p previousRelease) CRD() string {
	return filepath.Join(p.Tree, "config", "crd", "sequentialjobs.yaml")
}
func (p previousRelease) RBAC() string { return filepath.Join(p.Tree, "config", "rbac") }

var upgradeFromLine = regexp.MustCompile(`^UPGRADE_FROM\s*\?=\s*(\S+)`)

// pinnedCommit is SEQUENTIALJOB_UPGRADE_FROM (make exports it), or the
// Makefile's UPGRADE_FROM: the one place that names the previous release.
func pinnedCommit(root string) (string, error) {
	if c := os.Getenv("SEQUENTIALJOB_UPGRADE_FROM"); c != "" {
		return c, nil
	}
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read only
	s := bufio.NewScanner(f)
	for s.Scan() {
		if m := upgradeFromLine.FindStringSubmatch(s.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("no UPGRADE_FROM ?= line in %s/Makefile", root)
}

// buildPrevious runs `make upgrade-from` (a no-op once built) and returns
// what it built.
func buildPrevious(root, bin string) (previousRelease, error) {
	ref, err := pinnedCommit(root)
	if err != nil {
		return previousRelease{}, err
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=7", ref+"^{commit}").CombinedOutput()
	if err != nil {
		return previousRelease{}, fmt.Errorf("git rev-parse %s (the pinned previous release must be in this clone's history): %v\n%s", ref, err, out)
	}
	commit := strings.TrimSpace(string(out))
	make := exec.Command("make", "-s", "upgrade-from", "UPGRADE_FROM="+commit, "BIN="+bin)
	make.Dir = root
	if out, err := make.CombinedOutput(); err != nil {
		return previousRelease{}, fmt.Errorf("make upgrade-from UPGRADE_FROM=%s: %v\n%s", commit, err, out)
	}
	return previousRelease{
		Commit:     commit,
		Controller: filepath.Join(bin, "sequentialjob-controller-"+commit),
		CLI:        filepath.Join(bin, "sequentialjob-"+commit),
		Tree:       filepath.Join(root, ".local", "upgrade-from-"+commit),
	}, nil
}
