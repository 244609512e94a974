package render_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// The status compatibility rules of docs/upgrades.md, one test each, on the
// statuses the previous release (the Makefile's UPGRADE_FROM) actually
// wrote: testdata/upgrade-from-<commit>/<run>/ holds what its controller
// left at the moment test/upgrade stopped it mid-run (`make
// upgrade-capture` writes them again after the pin moves).

var upgradeFromLine = regexp.MustCompile(`^UPGRADE_FROM\s*\?=\s*(\S+)`)

// previousDir is testdata/upgrade-from-<UPGRADE_FROM>.
func previousDir(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "Makefile"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	var pin string
	for s := bufio.NewScanner(f); s.Scan(); {
		if m := upgradeFromLine.FindStringSubmatch(s.Text()); m != nil {
			pin = m[1]
		}
	}
	require.NotEmpty(t, pin, "the Makefile names no UPGRADE_FROM")
	dir := filepath.Join("testdata", "upgrade-from-"+pin)
	_, err = os.Stat(dir)
	require.NoError(t, err, "no statuses captured from the pinned release %s: run make upgrade-capture", pin)
	return dir
}

// previousStatuses loads every case captured from the pinned release, with
// each case's raw status as that release wrote it.
func previousStatuses(t *testing.T) map[string]previousCase {
	t.Helper()
	dir := previousDir(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]previousCase{}
	for _, e := range entries {
		if !e.IsDir() {
			continue // status-schema.yaml
		}
		c, err := fixtures.LoadRenderCase(filepath.Join(dir, e.Name()))
		require.NoError(t, err, "%s: the current types must read the previous release's object strictly", e.Name())
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "sequentialjob.yaml"))
		require.NoError(t, err)
		var raw struct {
			Status map[string]any `json:"status"`
		}
		require.NoError(t, yaml.Unmarshal(data, &raw))
		out[e.Name()] = previousCase{RenderCase: c, raw: raw.Status}
	}
	require.NotEmpty(t, out)
	return out
}

type previousCase struct {
	fixtures.RenderCase
	raw map[string]any
}

// now is one second after the last time the previous release wrote or
// observed: the first reconcile of the current controller.
func (c previousCase) now() time.Time {
	var last time.Time
	see := func(ts *metav1.Time) {
		if ts != nil && ts.After(last) {
			last = ts.Time
		}
	}
	s := c.SequentialJob.Status
	see(s.StartTime)
	see(s.CompletionTime)
	see(s.SuspendTime)
	for i := range s.Conditions {
		see(&s.Conditions[i].LastTransitionTime)
	}
	for _, steps := range [][]v1alpha1.StepStatus{s.Steps, s.Finally} {
		for _, st := range steps {
			see(st.StartTime)
			see(st.CompletionTime)
		}
	}
	for _, j := range c.Jobs {
		see(j.Status.CompletionTime)
		for i := range j.Status.Conditions {
			see(&j.Status.Conditions[i].LastTransitionTime)
		}
	}
	return last.Add(time.Second)
}

// Rule 1: a status the previous release wrote reads completely. Every field
// it wrote exists in the current types under the same name and type
// (LoadRenderCase decodes strictly), and reading and writing it back
// loses nothing: no field was renamed, removed or retyped.
func TestUpgradeRuleOldStatusReadsCompletely(t *testing.T) {
	for name, c := range previousStatuses(t) {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(c.SequentialJob.Status)
			require.NoError(t, err)
			var back map[string]any
			require.NoError(t, json.Unmarshal(data, &back))
			if d := cmp.Diff(c.raw, back); d != "" {
				t.Errorf("the previous release's status changes when the current types read and write it (-previous +current):\n%s", d)
			}
		})
	}
}

// Rule 2: a controller may add a status field only as optional (omitempty),
// whose absence means what the previous release meant: every field of the
// current status that the previous release's CRD (its status schema,
// captured beside the statuses) does not have must be omitempty, so that
// an older status, which lacks it, reads as its zero value. A field inside
// a new field is the new field's business.
func TestUpgradeRuleAddedFieldsAreOptional(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(previousDir(t), "status-schema.yaml"))
	require.NoError(t, err)
	var schema apiextensionsv1.JSONSchemaProps
	require.NoError(t, yaml.UnmarshalStrict(data, &schema))
	known := map[string]bool{}
	schemaPaths(schema, "", known)
	var added, required []string
	walkFields(reflect.TypeFor[v1alpha1.SequentialJobStatus](), "", func(path string, omitempty bool) bool {
		if known[path] {
			return true
		}
		added = append(added, path)
		if !omitempty {
			required = append(required, path)
		}
		return false
	})
	sort.Strings(added)
	t.Logf("status fields added since the previous release: %v", added)
	assert.Empty(t, required, "status fields added since the previous release must be omitempty: an older status lacks them")
	// And the reverse: no field of the previous release is gone.
	current := map[string]bool{}
	walkFields(reflect.TypeFor[v1alpha1.SequentialJobStatus](), "", func(path string, _ bool) bool { current[path] = true; return true })
	for path := range known {
		assert.True(t, current[path] || underKubernetesType(path, current), "status field %s of the previous release is gone", path)
	}
}

// underKubernetesType is true for the fields inside a Kubernetes type
// (conditions[].reason): walkFields stops at those.
func underKubernetesType(path string, current map[string]bool) bool {
	for p := path; strings.Contains(p, "."); {
		p = p[:strings.LastIndex(p, ".")]
		if current[strings.TrimSuffix(p, "[]")] {
			return true
		}
	}
	return false
}

// schemaPaths adds the path of every property of s to out.
func schemaPaths(s apiextensionsv1.JSONSchemaProps, prefix string, out map[string]bool) {
	for name, p := range s.Properties {
		path := strings.TrimPrefix(prefix+"."+name, ".")
		out[path] = true
		schemaPaths(p, path, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		schemaPaths(*s.Items.Schema, prefix+"[]", out)
	}
}

// Rule 3: missing fields read as their zero value, which is what the
// previous release meant, and nothing it recorded is lost: the first
// render of the current controller keeps every started step's Job name,
// attempt, start time, and, for a step that ended, its phase, reason,
// result and completion time. A retry the user asked for (a new
// spec.retryToken on a Failed run) starts the next attempt: then an ended
// step's record is kept as the entry's previous attempt.
func TestUpgradeRuleRecordedStepsAreKept(t *testing.T) {
	for name, c := range previousStatuses(t) {
		t.Run(name, func(t *testing.T) {
			got := c.Render(c.now())
			old := c.SequentialJob.Status
			retry := old.Phase == v1alpha1.PhaseFailed && c.SequentialJob.Spec.RetryToken != old.RetryToken
			if retry {
				assert.Equal(t, max(old.Attempt, 1)+1, got.Status.Attempt, "the run's attempt after a retry")
			} else {
				assert.Equal(t, old.Attempt, got.Status.Attempt, "the run's attempt")
			}
			assert.Equal(t, old.StartTime, got.Status.StartTime, "the run's start time")
			for _, pair := range [][2][]v1alpha1.StepStatus{{old.Steps, got.Status.Steps}, {old.Finally, got.Status.Finally}} {
				for _, before := range pair[0] {
					if before.StartTime == nil {
						continue
					}
					after, ok := entry(pair[1], before.Name)
					if !assert.True(t, ok, "step %s was started by the previous release and is gone from status", before.Name) {
						continue
					}
					if !before.Phase.Terminal() {
						assert.Equal(t, []any{before.JobName, before.Attempt, before.StartTime}, []any{after.JobName, after.Attempt, after.StartTime}, "step %s", before.Name)
						continue
					}
					if retry && after.JobName != before.JobName {
						assert.Contains(t, after.PreviousAttempts, v1alpha1.StepAttempt{Attempt: max(before.Attempt, 1), JobName: before.JobName,
							Phase: before.Phase, Reason: before.Reason, Message: before.Message, StartTime: before.StartTime, CompletionTime: before.CompletionTime},
							"step %s ended under the previous release and is retried: its record is its previous attempt", before.Name)
						continue
					}
					assert.Equal(t, ended(before), ended(after), "step %s ended under the previous release: its record is final", before.Name)
				}
			}
		})
	}
}

// ended is what a step that ended keeps for good.
func ended(s v1alpha1.StepStatus) v1alpha1.StepStatus {
	return v1alpha1.StepStatus{Name: s.Name, JobName: s.JobName, Attempt: s.Attempt, StartTime: s.StartTime, PreviousAttempts: s.PreviousAttempts,
		Phase: s.Phase, Reason: s.Reason, Result: s.Result, CompletionTime: s.CompletionTime}
}

// Rule 4: no step runs twice and no transition is announced twice across
// the upgrade: the first render of the current controller creates no Job
// for a step the previous release started, and posts no start, success or
// completion that the previous release's status already holds.
func TestUpgradeRuleNoTransitionTwice(t *testing.T) {
	for name, c := range previousStatuses(t) {
		t.Run(name, func(t *testing.T) {
			got := c.Render(c.now())
			old := c.SequentialJob.Status
			started := map[string]bool{}
			for _, steps := range [][]v1alpha1.StepStatus{old.Steps, old.Finally} {
				for _, s := range steps {
					if s.StartTime != nil {
						started[s.JobName] = true
					}
				}
			}
			if got.Job != nil {
				assert.False(t, started[*got.Job.Name], "Job %s again: its step was started by the previous release", *got.Job.Name)
				assert.False(t, observedJob(c.Jobs, *got.Job.Name), "Job %s exists already", *got.Job.Name)
			}
			for _, e := range got.Events {
				switch e.Reason {
				case v1alpha1.EventStepStarted:
					assert.False(t, started[e.Job], "StepStarted again for %s", e.Job)
				case v1alpha1.EventStepSucceeded:
					s, _ := entryByJob(old, e.Job)
					assert.NotEqual(t, v1alpha1.PhaseSucceeded, s.Phase, "StepSucceeded again for %s", e.Job)
				case v1alpha1.ReasonCompleted:
					assert.NotEqual(t, v1alpha1.PhaseSucceeded, old.Phase, "Completed again")
				case v1alpha1.ReasonSuspended:
					assert.NotEqual(t, v1alpha1.PhaseSuspended, old.Phase, "Suspended again")
				}
			}
		})
	}
}

// Rule 5: the status a current controller writes over an older one is
// final for that observation: a second reconcile of the same Jobs at the
// same time writes nothing and announces nothing (no status churn from a
// field the older status lacked).
func TestUpgradeRuleRewriteIsStable(t *testing.T) {
	for name, c := range previousStatuses(t) {
		t.Run(name, func(t *testing.T) {
			now := c.now()
			first := c.Render(now)
			again := c
			again.SequentialJob = c.SequentialJob.DeepCopy()
			again.SequentialJob.Status = first.Status
			if first.Job != nil {
				// The Job the first render created, as the apiserver
				// returns it: the second reconcile observes it.
				data, err := json.Marshal(first.Job)
				require.NoError(t, err)
				var job batchv1.Job
				require.NoError(t, json.Unmarshal(data, &job))
				job.CreationTimestamp = metav1.NewTime(now)
				again.Jobs = append(append([]batchv1.Job(nil), c.Jobs...), job)
			}
			second := again.Render(now)
			if d := cmp.Diff(first.Status, second.Status); d != "" {
				t.Errorf("the second reconcile rewrites the status (-first +second):\n%s", d)
			}
			assert.Empty(t, second.Events, "the second reconcile announces")
			assert.Nil(t, second.Job, "the second reconcile creates a Job")
		})
	}
}

func entry(steps []v1alpha1.StepStatus, name string) (v1alpha1.StepStatus, bool) {
	for _, s := range steps {
		if s.Name == name {
			return s, true
		}
	}
	return v1alpha1.StepStatus{}, false
}

func entryByJob(s v1alpha1.SequentialJobStatus, job string) (v1alpha1.StepStatus, bool) {
	for _, steps := range [][]v1alpha1.StepStatus{s.Steps, s.Finally} {
		for _, st := range steps {
			if st.JobName == job {
				return st, true
			}
		}
	}
	return v1alpha1.StepStatus{}, false
}

func observedJob(jobs []batchv1.Job, name string) bool {
	for _, j := range jobs {
		if j.Name == name {
			return true
		}
	}
	return false
}

// walkFields calls fn with the JSON path of every field of t, and whether
// its tag says omitempty, and goes into the field when fn says so. Kubernetes' own types (conditions, times) are
// leaves: their compatibility is Kubernetes'.
func walkFields(t reflect.Type, prefix string, fn func(path string, omitempty bool) (descend bool)) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeFor[v1alpha1.SequentialJobStatus]().PkgPath() {
		return
	}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := strings.TrimPrefix(prefix+"."+name, ".")
		if fn(p, strings.Contains(opts, "omitempty")) {
			walkFields(f.Type, p, fn)
		}
	}
}
