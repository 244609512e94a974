package render_test

// Fuzz targets for render (issue 13). `make test` runs their seed corpora
// under testdata/fuzz/ as ordinary tests; `make fuzz` explores further.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// FuzzRenderJSON renders arbitrary observations, decoded from JSON: no
// panic, the same output for the same input, the input left as it was, and
// never a Job whose name an observed Job in the namespace already has.
func FuzzRenderJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, unix int64) {
		var obs render.Observed
		if json.Unmarshal(data, &obs) != nil || obs.SequentialJob == nil {
			return
		}
		d := renderTwice(t, obs, fuzzTime(unix), true)
		if job := d.Job; job != nil {
			for _, seen := range obs.Jobs {
				if seen.Namespace == obs.SequentialJob.Namespace && seen.Name == *job.Name {
					t.Fatalf("render wants to create Job %s, which exists (a step runs twice or a foreign Job is taken over)", seen.Name)
				}
			}
		}
	})
}

// FuzzRenderSequence runs a whole run through render, reconcile after
// reconcile, while the fuzzer's bytes decide what the world does in
// between: Jobs complete, fail or are deleted, the spec is edited, a status
// write is lost, the cluster holds a step back, a dry-run rejects a step.
// Exhausted, the bytes read as zeros, which complete the running Job each
// round, so every run is driven to its end. Every render is checked for
// determinism, and the sequence for the run model's promises: one Job per
// step, a step never started twice, a Job name never used twice, one step
// at a time, a finished run starts nothing, a succeeded run skipped none of
// its steps, and a reconcile with nothing to change writes nothing.
func FuzzRenderSequence(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { runSequence(t, data) })
}

// runSequence is FuzzRenderSequence's body: one scenario, decided by data.
func runSequence(t testing.TB, data []byte) {
	t.Helper()
	src := &byteSource{data: data}
	c := newCluster(src)
	for round := 0; round < 400; round++ {
		obs := c.observe(src)
		d := renderTwice(t, obs, c.now, round%16 == 0)
		c.check(t, round, obs, d)
		written := src.intn(8) != 7
		c.apply(d, written)
		if c.idle() {
			if written {
				c.checkFixpoint(t, round, obs)
			}
			if src.done() {
				return
			}
		}
		c.act(src)
	}
	if !src.done() {
		return // the bytes kept the run busy: no verdict on its end
	}
	t.Fatalf("the run never ended: phase %s after 400 reconciles\n%s", c.sj.Status.Phase, c.describe())
}

// renderTwice renders obs twice, from copies, and fails unless both outputs
// are equal and obs is left as it was. (reflect.DeepEqual first: cmp.Diff
// and the YAML printer cost more than the render, and fuzzing wants speed.)
// printed says whether to print both outputs too and compare the text, as
// the golden tests and the CLI see it.
func renderTwice(t testing.TB, obs render.Observed, now time.Time, printed bool) render.Desired {
	t.Helper()
	before := deepCopyObserved(obs)
	first := render.Render(obs, now)
	second := render.Render(deepCopyObserved(obs), now)
	if !reflect.DeepEqual(before, obs) {
		t.Fatalf("Render modified its input:\n%s", gocmp.Diff(before, obs))
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("the same input rendered twice differs:\n%s", gocmp.Diff(first, second))
	}
	if printed {
		a, errA := first.MarshalYAML()
		b, errB := second.MarshalYAML()
		if errA != nil || errB != nil {
			t.Fatalf("printing the output: %v, %v", errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("the same input rendered twice prints differently:\n%s", gocmp.Diff(string(a), string(b)))
		}
	}
	return first
}

func deepCopyObserved(obs render.Observed) render.Observed {
	out := render.Observed{SequentialJob: obs.SequentialJob.DeepCopy()}
	for _, job := range obs.Jobs {
		out.Jobs = append(out.Jobs, *job.DeepCopy())
	}
	if a := obs.Answers; a != nil {
		out.Answers = &render.Answers{Rejected: maps.Clone(a.Rejected)}
		if a.Problem != nil {
			p := *a.Problem
			out.Answers.Problem = &p
		}
		for _, pod := range a.Pods {
			out.Answers.Pods = append(out.Answers.Pods, *pod.DeepCopy())
		}
	}
	return out
}

// fuzzTime maps any int64 to a second between 1970 and 9999: the reconciler
// passes time.Now(), and the CLI an RFC3339 time, which has four digits.
func fuzzTime(unix int64) time.Time {
	const span = 253402300799 // 9999-12-31T23:59:59Z
	if unix < 0 {
		unix = -(unix + 1)
	}
	return time.Unix(unix%span, 0).UTC()
}

// check holds one render to the run model, against everything created so
// far in the simulated cluster.
func (c *cluster) check(t testing.TB, round int, obs render.Observed, d render.Desired) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("reconcile %d: %s\n%s", round, fmt.Sprintf(format, args...), c.describe())
	}
	spec, old := obs.SequentialJob.Spec, obs.SequentialJob.Status
	if d.Job != nil {
		ended := old.Phase == v1alpha1.PhaseSucceeded || old.Phase == v1alpha1.PhaseFailed
		if ended && spec.RetryToken == old.RetryToken {
			fail("the run had ended (%s) and no retry was asked, yet render creates Job %s", old.Phase, *d.Job.Name)
		}
		// A Job the controller stops (run deadline), now or before, may
		// still be winding down: the finally steps start at once, by design
		// (docs/step-controls.md). Any other Job of the run must have ended.
		stopping := map[string]bool{}
		for _, control := range d.JobControls {
			if control.Spec != nil && ptr.Deref(control.Spec.ActiveDeadlineSeconds, 0) == 1 {
				stopping[*control.Name] = true
			}
		}
		for _, job := range c.runningJobs() {
			if ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0) != 1 && !stopping[job.Name] {
				fail("Job %s is created while Job %s still runs", *d.Job.Name, job.Name)
			}
		}
		if ptr.Deref(spec.Suspend, false) {
			fail("the run is suspended, yet render creates Job %s", *d.Job.Name)
		}
	}
	if job := d.Job; job != nil {
		name, step := *job.Name, job.Labels[v1alpha1.LabelStepName]
		finally := job.Labels[v1alpha1.LabelFinally] == "true"
		attempt := cmp.Or(job.Labels[v1alpha1.LabelStepAttempt], "1")
		key := fmt.Sprintf("finally=%t step=%q attempt=%s", finally, step, attempt)
		if prev, ok := c.created[name]; ok {
			fail("Job name %s is used twice: for %s, and now for %s", name, prev, key)
		}
		if prev, ok := c.started[key]; ok {
			fail("%s starts twice: as Job %s, and now as Job %s", key, prev, name)
		}
		list := spec.Containers
		if finally {
			list = spec.Finally
		}
		if !slices.ContainsFunc(list, func(ct corev1.Container) bool { return ct.Name == step }) {
			fail("%s starts but is not in the current spec", key)
		}
		c.created[name], c.started[key] = step, name
		// Once a finally step starts, the steps are closed: an edit after
		// that runs nothing, as an edit of a finished run. A retry of a
		// failed run opens them again.
		switch {
		case finally && c.closedSteps == nil:
			c.closedSteps = slices.Clone(spec.Containers)
		case !finally:
			c.closedSteps = nil
		}
	}

	status := d.Status
	if len(status.Steps) > v1alpha1.MaxRecordedSteps || len(status.Finally) > v1alpha1.MaxRecordedFinallySteps {
		fail("status records %d steps and %d finally steps, more than the CRD allows", len(status.Steps), len(status.Finally))
	}
	jobNames := map[string]bool{}
	for _, entries := range [][]v1alpha1.StepStatus{status.Steps, status.Finally} {
		seen := map[string]bool{}
		for i, step := range entries {
			if step.Name != "" && seen[step.Name] {
				fail("step %q has two entries in one list of status", step.Name)
			}
			seen[step.Name] = true
			if jobNames[step.JobName] {
				fail("two entries name Job %s", step.JobName)
			}
			jobNames[step.JobName] = true
			// A step that started has a start time; one that failed before
			// it could start (InvalidStep, StepLimitExceeded) has none, and
			// no Job.
			if created, ok := c.created[step.JobName]; ok && step.StartTime != nil && step.Name != "" && created != step.Name {
				fail("entry %d says step %q ran as Job %s, which was created for %q", i, step.Name, step.JobName, created)
			}
			// A step its when skipped never has a Job, across renders.
			if created, ok := c.created[step.JobName]; ok && step.Phase == v1alpha1.PhaseSkipped {
				fail("entry %d says step %q was skipped, yet Job %s was created for %q", i, step.Name, step.JobName, created)
			}
		}
	}
	if status.State.Active > 1 {
		fail("%d steps run at once", status.State.Active)
	}
	if status.Phase == v1alpha1.PhaseSucceeded && old.Phase != v1alpha1.PhaseSucceeded {
		steps := spec.Containers
		if c.closedSteps != nil {
			steps = c.closedSteps
		}
		for _, ct := range steps {
			i := slices.IndexFunc(status.Steps, func(s v1alpha1.StepStatus) bool { return s.Name == ct.Name })
			if i < 0 {
				fail("the run succeeded but step %q of the spec never ran", ct.Name)
			}
			s := status.Steps[i]
			allowedToFail := s.Phase == v1alpha1.PhaseFailed && s.OnFailure == v1alpha1.OnFailureContinue
			if s.Phase != v1alpha1.PhaseSucceeded && s.Phase != v1alpha1.PhaseSkipped && !allowedToFail {
				fail("the run succeeded but step %q is %s", ct.Name, s.Phase)
			}
		}
	}
}

// idle is true when nothing is running and the stored status records it:
// the next reconcile has nothing new to react to.
func (c *cluster) idle() bool {
	if len(c.runningJobs()) > 0 {
		return false
	}
	p := c.sj.Status.Phase
	return p == v1alpha1.PhaseSucceeded || p == v1alpha1.PhaseFailed
}

// checkFixpoint: once a run has ended and its status is written, a
// reconcile with nothing new writes nothing and creates nothing.
func (c *cluster) checkFixpoint(t testing.TB, round int, prev render.Observed) {
	t.Helper()
	obs := render.Observed{SequentialJob: c.sj.DeepCopy(), Answers: prev.Answers}
	for _, name := range c.sortedJobNames() {
		obs.Jobs = append(obs.Jobs, *c.jobs[name].DeepCopy())
	}
	d := render.Render(obs, c.now)
	if d.Job != nil || d.StatusChanged() || len(d.Events) > 0 {
		out, _ := d.MarshalYAML()
		t.Fatalf("reconcile %d: the run has ended and nothing changed, yet a reconcile acts:\n%s\n%s", round, out, c.describe())
	}
}

// describe prints the simulated cluster for a failure message.
func (c *cluster) describe() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "spec steps:")
	for _, ct := range c.sj.Spec.Containers {
		fmt.Fprintf(&b, " %s", ct.Name)
	}
	fmt.Fprintf(&b, " finally:")
	for _, ct := range c.sj.Spec.Finally {
		fmt.Fprintf(&b, " %s", ct.Name)
	}
	fmt.Fprintf(&b, " suspend=%t retryToken=%q retryFrom=%q", ptr.Deref(c.sj.Spec.Suspend, false), c.sj.Spec.RetryToken, c.sj.Spec.RetryFrom)
	fmt.Fprintf(&b, "\nstatus: phase %s retryToken=%q, steps:", c.sj.Status.Phase, c.sj.Status.RetryToken)
	for _, s := range c.sj.Status.Steps {
		fmt.Fprintf(&b, " %s=%s(%s)#%d", s.Name, s.Phase, s.Reason, s.Attempt)
	}
	fmt.Fprintf(&b, " finally:")
	for _, s := range c.sj.Status.Finally {
		fmt.Fprintf(&b, " %s=%s(%s)#%d", s.Name, s.Phase, s.Reason, s.Attempt)
	}
	fmt.Fprintf(&b, "\njobs:")
	for _, name := range c.sortedJobNames() {
		job := c.jobs[name]
		fmt.Fprintf(&b, " %s[%s finished=%t deleting=%t]", name, job.Labels[v1alpha1.LabelStepName], jobFinished(job), job.DeletionTimestamp != nil)
	}
	return b.String()
}
