package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"example.com/sequentialjob/render"
)

var update = flag.Bool("update", false, "rewrite the golden want.yaml files from the current output")

// goldenNow is the clock every golden case renders at.
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// assertGolden compares the rendered output with testdata/<name>/want.yaml,
// or rewrites that file under -update.
func assertGolden(t *testing.T, name string, got render.Desired) {
	t.Helper()
	out, err := got.MarshalYAML()
	require.NoError(t, err)
	path := filepath.Join("testdata", name, "want.yaml")
	if *update {
		require.NoError(t, os.WriteFile(path, out, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run: go test ./render -run TestRenderGolden -update")
	if diff := cmp.Diff(string(want), string(out)); diff != "" {
		t.Errorf("render output differs from %s (-want +got):\n%s", path, diff)
	}
}
