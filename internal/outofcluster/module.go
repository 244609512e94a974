package outofcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Binary returns binDir/name, or an error that says how to build it.
func Binary(binDir, name string) (string, error) {
	bin := filepath.Join(binDir, name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s: %w (run `make %s`)", bin, err, bin)
	}
	return bin, nil
}

// ModuleDir returns the directory of module as toolsDir's go.mod pins it
// (tools/<name>): the source bin/<name> is built from, so the CRDs and
// webhooks read from it always match the binary. The go command downloads
// it into the module cache if needed (`make bin/<name>` has done so).
func ModuleDir(ctx context.Context, toolsDir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = toolsDir
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("go list -m %s in %s: %w\n%s", module, toolsDir, err, stderr)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m %s in %s: module not downloaded (run `make bin/%s`)", module, toolsDir, path.Base(module))
	}
	return dir, nil
}

// FindModuleDir is ModuleDir of module in tools/<last element of module>,
// found by walking up from the working directory.
func FindModuleDir(ctx context.Context, module string) (string, error) {
	tools, err := findToolsDir(path.Base(module))
	if err != nil {
		return "", err
	}
	return ModuleDir(ctx, tools, module)
}

// findToolsDir walks up from the working directory to tools/name.
func findToolsDir(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		candidate := filepath.Join(dir, "tools", name)
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(name + ": tools/" + name + "/go.mod not found above the working directory; set Options.ModuleDir")
		}
		dir = parent
	}
}
