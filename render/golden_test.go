package render_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
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

// renderCase renders a case: with testdata/<name>/problem.yaml present, as
// the reconciler does when the cluster keeps the next Job from being created.
func renderCase(t *testing.T, name string, sj *v1alpha1.SequentialJob, jobs []batchv1.Job) render.Desired {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "problem.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return render.Render(sj, jobs, goldenNow)
	}
	require.NoError(t, err)
	var problem render.Problem
	require.NoError(t, yaml.UnmarshalStrict(data, &problem))
	return render.RenderWithProblem(sj, jobs, goldenNow, problem)
}

// loadCase reads testdata/<name>/sequentialjob.yaml and, when present,
// observed.yaml (the Jobs the controller sees, as YAML documents).
func loadCase(t *testing.T, name string) (*v1alpha1.SequentialJob, []batchv1.Job) {
	t.Helper()
	dir := filepath.Join("testdata", name)
	data, err := os.ReadFile(filepath.Join(dir, "sequentialjob.yaml"))
	require.NoError(t, err)
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, yaml.UnmarshalStrict(data, sj))

	var jobs []batchv1.Job
	data, err = os.ReadFile(filepath.Join(dir, "observed.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return sj, nil
	}
	require.NoError(t, err)
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var job batchv1.Job
		err := decoder.Decode(&job)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		jobs = append(jobs, job)
	}
	return sj, jobs
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
