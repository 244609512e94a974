package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

var update = flag.Bool("update", false, "rewrite the golden want.yaml files from the current output")

// goldenNow is the clock every golden case renders at.
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// goldenOutput is what want.yaml holds: every field of render.Desired a user
// would see the effect of.
type goldenOutput struct {
	Jobs                any                          `json:"jobs"`
	StatusChanged       bool                         `json:"statusChanged"`
	Status              v1alpha1.SequentialJobStatus `json:"status"`
	Events              []render.Event               `json:"events"`
	ConfirmWithLiveRead bool                         `json:"confirmWithLiveRead,omitempty"`
	Blocked             bool                         `json:"blocked,omitempty"`
}

// assertGolden compares the rendered output with testdata/<name>/want.yaml,
// or rewrites that file under -update.
func assertGolden(t *testing.T, name string, got render.Desired) {
	t.Helper()
	out, err := yaml.Marshal(goldenOutput{
		Jobs: got.Jobs, StatusChanged: got.StatusChanged, Status: got.Status, Events: got.Events,
		ConfirmWithLiveRead: got.ConfirmWithLiveRead, Blocked: got.Blocked,
	})
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
