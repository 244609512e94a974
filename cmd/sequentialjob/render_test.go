package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/render from the current output")

const renderNow = "2026-01-02T03:04:05Z"

// renderedOutput is the printed YAML, parsed back for the checks a user
// would make by eye.
type renderedOutput struct {
	Jobs          []batchv1.Job                `json:"jobs"`
	Status        v1alpha1.SequentialJobStatus `json:"status"`
	StatusChanged bool                         `json:"statusChanged"`
	Release       []string                     `json:"release"`
	Transitions   []render.Transition          `json:"transitions"`
	Events        []struct{ Type, Reason, Message, Job string }
}

// TestRenderCommand runs `sequentialjob render` on each case under
// testdata/render/<case>/ (sequentialjob.yaml, and observed.yaml when
// present) and compares what it prints with want.yaml (stdout) or want.err
// (the error). Each case also checks, in code, the property it exists for.
func TestRenderCommand(t *testing.T) {
	cases := map[string]struct {
		reason string
		// file replaces testdata/render/<case>/sequentialjob.yaml.
		file  string
		check func(t *testing.T, out renderedOutput, errText string)
	}{
		"seed-example": {
			reason: "The seed's example, as a user applies it, renders Job 0 and the initial status.",
			file:   filepath.Join("..", "..", "examples", "seed-example.yaml"),
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, "example-job-sequence-0", out.Jobs[0].Name)
				assert.Equal(t, "default", out.Jobs[0].Namespace)
				assert.Equal(t, "step1", out.Jobs[0].Spec.Template.Spec.Containers[0].Name)
				assert.Equal(t, v1alpha1.PhaseRunning, out.Status.Phase)
				assert.Equal(t, "0/1", out.Status.Progress.Summary)
				assert.Equal(t, int64(1), out.Status.ObservedGeneration)
				assert.True(t, out.StatusChanged)
			},
		},
		"two-steps-first-complete": {
			reason: "With step 0's Job Complete (from kubectl get -o yaml, a List), step 1's Job is next; the file's SequentialJob owns the Jobs without a uid of its own.",
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, "pipeline-1", out.Jobs[0].Name)
				assert.Equal(t, "ci", out.Jobs[0].Namespace)
				assert.Equal(t, "0b9a6a3e-1111-2222-3333-444455556666", string(out.Jobs[0].OwnerReferences[0].UID))
				assert.Equal(t, []int32{0}, out.Status.Progress.CompletedIndices)
			},
		},
		"when-skips-a-step": {
			reason: "The offline render evaluates when as the controller does: test's when (build failed) is false, so test is Skipped and deploy's Job is next.",
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, "pipeline-2", out.Jobs[0].Name)
				assert.Equal(t, v1alpha1.PhaseSkipped, out.Status.Steps[1].Phase)
				assert.Equal(t, v1alpha1.ReasonConditionNotMet, out.Status.Steps[1].Reason)
				assert.Equal(t, int32(1), out.Status.State.Skipped)
			},
		},
		"step-failed": {
			reason: "A failed step's Job, with no status yet: no Job is created, the status and a Warning event say which step failed and why, after the step's start that status never recorded.",
			check: func(t *testing.T, out renderedOutput, _ string) {
				assert.Empty(t, out.Jobs)
				assert.Equal(t, v1alpha1.PhaseFailed, out.Status.Phase)
				assert.Equal(t, "BackoffLimitExceeded", out.Status.Progress.FailureReason)
				require.Len(t, out.Events, 2)
				assert.Equal(t, "StepStarted", out.Events[0].Reason)
				assert.Equal(t, "Warning", out.Events[1].Type)
				assert.Contains(t, out.Events[1].Message, "Job 0 failed: BackoffLimitExceeded")
			},
		},
		"template-without-containers": {
			reason: "A shared template with pod settings and no containers is valid, and reaches the Job.",
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, "runner", out.Jobs[0].Spec.Template.Spec.ServiceAccountName)
				assert.Equal(t, map[string]string{"pool": "batch"}, out.Jobs[0].Spec.Template.Spec.NodeSelector)
			},
		},
		"step-template": {
			reason: "examples/step-template.yaml: the printed Job's container is the step merged over spec.stepTemplate, as the controller creates it.",
			file:   filepath.Join("..", "..", "examples", "step-template.yaml"),
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				c := out.Jobs[0].Spec.Template.Spec.Containers[0]
				assert.Equal(t, "build", c.Name)
				assert.Equal(t, []corev1.EnvVar{{Name: "STAGE", Value: "ci"}}, c.Env)
				assert.Equal(t, "100m", c.Resources.Requests.Cpu().String())
				assert.Equal(t, ptr.To(true), c.SecurityContext.RunAsNonRoot)
			},
		},
		"step-template-with-image": {
			reason: "The CRD's CEL rules on spec.stepTemplate run offline too: a template names no image.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "spec.stepTemplate.image must not be set: every step names its own image")
			},
		},
		"control-characters": {
			reason: "Any string the apiserver accepts prints, and reads back the same: DEL, C0 and C1 controls, NEL, line separators, a BOM, noncharacters (DEL made render fail with \"control characters are not allowed\").",
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, []string{"del\x7fend", "bel\aesc\x1b[0m", "nul\x00", "c1\u0080\u009f", "nel\u0085", "ls\u2028",
					"bom\ufeff", "nonchar\ufffe\uffff", "tab\tcr\r"}, out.Jobs[0].Spec.Template.Spec.Containers[0].Args)
			},
		},
		"control-characters-json": {
			reason: "JSON (kubectl get -o json) holds DEL, C1 controls and noncharacters raw, which YAML refuses: they are read as the JSON means them.",
			file:   filepath.Join("testdata", "render", "control-characters-json", "sequentialjob.json"),
			check: func(t *testing.T, out renderedOutput, _ string) {
				require.Len(t, out.Jobs, 1)
				assert.Equal(t, []string{"del\x7fend", "c1\u0080\u009f", "nel\u0085", "nonchar\ufffe\uffff"}, out.Jobs[0].Spec.Template.Spec.Containers[0].Args)
			},
		},
		"unknown-fields": {
			reason: "Misspelled fields are errors that name them, as with kubectl's strict field validation.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, `unknown field "spec.backofLimit"`)
				assert.Contains(t, errText, `unknown field "spec.containers[0].comand"`)
			},
		},
		"schema-errors": {
			reason: "Every schema violation is reported with its field path, as the apiserver words it.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "spec.containers[0].name: Required value")
				assert.Contains(t, errText, "spec.backoffLimit: Invalid value")
				assert.Contains(t, errText, `spec.updateStrategy.type: Unsupported value: "Sometimes"`)
			},
		},
		"cel-restart-policy": {
			reason: "The CRD's CEL rules run too: a Job cannot restart Always.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "spec.template.spec.restartPolicy must be Never or OnFailure")
			},
		},
		"duplicate-step-names": {
			reason: "Step names are list-map keys: a duplicate is named.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "spec.containers[1]: Duplicate value")
			},
		},
		"name-too-long": {
			reason: "A name that leaves no room for the step index is rejected by the CRD's CEL rule.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "metadata.name must be at most 60 characters")
			},
		},
		"bad-yaml": {
			reason: "A YAML syntax error gives the file and the line.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, "line 8")
			},
		},
		"wrong-kind": {
			reason: "Another kind is refused by name, not half-rendered.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, `found apiVersion "batch/v1", kind "Job"`)
			},
		},
		"observed-typo": {
			reason: "A misspelled field in an observed Job is an error, not a silently running step.",
			check: func(t *testing.T, _ renderedOutput, errText string) {
				assert.Contains(t, errText, `unknown field "status.succeded"`)
			},
		},
	}

	entries, err := os.ReadDir(filepath.Join("testdata", "render"))
	require.NoError(t, err)
	for _, e := range entries {
		_, ok := cases[e.Name()]
		assert.True(t, ok, "testdata/render/%s has no test case", e.Name())
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Log(tc.reason)
			dir := filepath.Join("testdata", "render", name)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			file := tc.file
			if file == "" {
				file = filepath.Join(dir, "sequentialjob.yaml")
			}
			args := []string{"-f", file, "--now", renderNow}
			if _, err := os.Stat(filepath.Join(dir, "observed.yaml")); err == nil {
				args = append(args, "--observed", filepath.Join(dir, "observed.yaml"))
			}

			cmd := newRenderCommand()
			var stdout bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(args)
			runErr := cmd.Execute()

			if runErr != nil {
				assertGolden(t, filepath.Join(dir, "want.err"), []byte(filepath.ToSlash(runErr.Error())+"\n"))
				assertAbsent(t, filepath.Join(dir, "want.yaml"))
				tc.check(t, renderedOutput{}, runErr.Error())
				return
			}
			assertGolden(t, filepath.Join(dir, "want.yaml"), stdout.Bytes())
			assertAbsent(t, filepath.Join(dir, "want.err"))
			var out renderedOutput
			require.NoError(t, yaml.UnmarshalStrict(stdout.Bytes(), &out), "render must print YAML")
			tc.check(t, out, "")
		})
	}
}

// TestRenderIsRegistered: `sequentialjob render` exists on the root command.
func TestRenderIsRegistered(t *testing.T) {
	var names []string
	for _, sub := range subcommands {
		names = append(names, sub().Name())
	}
	assert.Contains(t, names, "render")
}

// TestRenderUsesTheClock: without --now, render reads the clock once.
func TestRenderUsesTheClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	out, err := runRender(renderOptions{filename: filepath.Join("..", "..", "examples", "seed-example.yaml"), namespace: "default"},
		func() time.Time { return at })
	require.NoError(t, err)
	assert.Contains(t, string(out), `startTime: "2030-05-06T07:08:09Z"`)
}

// TestRenderFlagErrors: flags a user gets wrong are named.
func TestRenderFlagErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"no file":      {nil, `required flag(s) "filename" not set`},
		"missing file": {[]string{"-f", "testdata/render/does-not-exist.yaml"}, "does-not-exist.yaml: no such file or directory"},
		"bad --now":    {[]string{"-f", "../../examples/seed-example.yaml", "--now", "yesterday"}, `--now: "yesterday" is not an RFC3339 time`},
		"two documents": {[]string{"-f", "testdata/render/two-steps-first-complete/observed.yaml"},
			`want apiVersion batch.example.com/v1alpha1, kind SequentialJob; found apiVersion "v1", kind "List"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := newRenderCommand()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing; this run printed:\n%s\nrun: go test ./cmd/sequentialjob -run TestRenderCommand -update", path, got)
	}
	require.NoError(t, err)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

// assertAbsent removes (under -update) or rejects a stale golden file of
// the other kind, so a case that starts failing cannot keep a want.yaml.
func assertAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return
	}
	if *update {
		require.NoError(t, os.Remove(path))
		return
	}
	t.Errorf("%s exists, but this case now gives the other outcome (output or error): rerun with -update and read the diff", path)
}
