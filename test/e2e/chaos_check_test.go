package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

// chaosWorkload is what every chaos scenario runs: chaos.runs SequentialJobs
// of chaos.steps steps, in a namespace of their own, with every Job change
// recorded in the apiserver's order (jobRecorder).
type chaosWorkload struct {
	ns string
	// names are every run the scenario will create, created or not.
	names   []string
	created int
	steps   []string
	jobs    *jobRecorder
	started time.Time
}

// newChaosWorkload creates the first upfront runs; next creates the others
// one at a time, so that a scenario can start one after each fault and
// always has runs going while it injects faults.
func newChaosWorkload(t *testing.T, prefix string, upfront int) *chaosWorkload {
	t.Helper()
	w := &chaosWorkload{ns: newNamespace(t), started: time.Now()}
	w.jobs = recordJobs(t, w.ns)
	for i := range *chaosSteps {
		w.steps = append(w.steps, fmt.Sprintf("s%d", i))
	}
	for i := range *chaosRuns {
		w.names = append(w.names, fmt.Sprintf("%s-%02d", prefix, i))
	}
	for range max(1, min(upfront, len(w.names))) {
		require.NoError(t, w.next())
	}
	return w
}

// next creates the next run, if any is left. It does not fail the test
// itself: scenarios call it from their fault goroutine.
func (w *chaosWorkload) next() error {
	if w.created == len(w.names) {
		return nil
	}
	sj := fixtures.MakeSequentialJob(w.ns, w.names[w.created]).Steps(w.steps...).Duration(*chaosDuration).Obj()
	if err := k8s.Create(context.Background(), sj); err != nil {
		return fmt.Errorf("creating SequentialJob %s: %w", sj.Name, err)
	}
	w.created++
	return nil
}

// rest creates the runs not created yet.
func (w *chaosWorkload) rest() error {
	for w.created < len(w.names) {
		if err := w.next(); err != nil {
			return err
		}
	}
	return nil
}

// unfinished counts the runs that have not ended; an error (the apiserver
// restarting, an injected fault does not reach this client) counts all.
func (w *chaosWorkload) unfinished(ctx context.Context) int {
	list := &v1alpha1.SequentialJobList{}
	if err := k8s.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return len(w.names)
	}
	n := len(w.names)
	for i := range list.Items {
		if finished(&list.Items[i]) {
			n--
		}
	}
	return n
}

// wait waits until every run has ended or timeout has passed, and returns
// how many never ended: those are lost runs, reported rather than fatal so
// that the scenario's figures are still printed.
func (w *chaosWorkload) wait(timeout time.Duration) int {
	left := len(w.names)
	_ = wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		left = w.unfinished(ctx)
		return left == 0, nil
	})
	return left
}

// chaosResult is one scenario's line in the summary.
type chaosResult struct {
	Scenario string
	Runs     int
	// Injected says what was done to the system: kills, faults, restarts.
	Injected string
	// Exact runs ended Succeeded with exactly the expected status.
	Exact int
	// Lost runs never ended.
	Lost int
	// Doubled counts step Jobs created more than once.
	Doubled int
	// OutOfOrder counts Jobs created before the previous step's Job was
	// Complete, or running beside another Job of the same run.
	OutOfOrder int
	// Orphans are Jobs left without their SequentialJob as controller.
	Orphans                    int
	EventsLost, EventsRepeated int
	Took                       time.Duration
	// Failed is the test's verdict, which also covers the scenario's own
	// checks (kills or restarts that did not happen, two leaders).
	Failed   bool
	problems []string
}

// Clean reports whether nothing was lost, doubled or wrong. Lost events are
// not in it: events are recorded after the status write that holds their
// transition, at most once, so a kill in between loses them by design
// (docs/reliability.md).
func (r chaosResult) Clean() bool {
	return r.Exact == r.Runs && r.Lost == 0 && r.Doubled == 0 && r.OutOfOrder == 0 && r.Orphans == 0 && r.EventsRepeated == 0
}

// check waits for the runs to end, checks every one of them, records the
// scenario's figures for the summary, and fails the test on anything lost,
// doubled or wrong.
func (w *chaosWorkload) check(t *testing.T, scenario, injected string, lost int) chaosResult {
	t.Helper()
	r := chaosResult{Scenario: scenario, Runs: len(w.names), Injected: injected, Lost: lost, Took: time.Since(w.started)}
	ctx := context.Background()
	owners := map[string]*v1alpha1.SequentialJob{}
	for _, name := range w.names {
		sj := &v1alpha1.SequentialJob{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: w.ns, Name: name}, sj); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		owners[name] = sj
		if p := exactSuccess(sj, w.steps); len(p) > 0 {
			r.problems = append(r.problems, p...)
		} else {
			r.Exact++
		}
		run := w.jobs.stepsRun(name)
		seen := map[string]bool{}
		for _, step := range run {
			if seen[step] {
				r.Doubled++
			}
			seen[step] = true
		}
		if !equalStrings(run, w.steps) {
			r.problems = append(r.problems, fmt.Sprintf("%s: steps run %v, want %v once each in order", name, run, w.steps))
		}
		l, rep, err := eventTally(ctx, w.ns, name, len(w.steps))
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: events: %v", name, err))
		}
		r.EventsLost, r.EventsRepeated = r.EventsLost+l, r.EventsRepeated+rep
	}
	w.jobs.mu.Lock()
	r.OutOfOrder = len(w.jobs.violations)
	r.problems = append(r.problems, w.jobs.violations...)
	w.jobs.mu.Unlock()
	for _, job := range w.jobs.all() {
		ref := metav1.GetControllerOf(&job)
		owner := owners[job.Labels[v1alpha1.LabelSequentialJob]]
		if ref == nil || owner == nil || ref.UID != owner.UID {
			r.Orphans++
			r.problems = append(r.problems, fmt.Sprintf("Job %s is not controlled by its SequentialJob (owner %v)", job.Name, ref))
		}
	}
	// Recorded once the test has ended, with its verdict.
	t.Cleanup(func() { r.Failed = t.Failed(); recordChaos(r) })
	fmt.Printf("chaos %s: %d runs x %d steps, %s: %d exact, %d lost, %d Jobs doubled, %d out of order, %d orphans; events lost %d, repeated %d (%s)\n",
		scenario, r.Runs, len(w.steps), injected, r.Exact, r.Lost, r.Doubled, r.OutOfOrder, r.Orphans, r.EventsLost, r.EventsRepeated, r.Took.Round(time.Second))
	if !r.Clean() {
		const show = 20
		if len(r.problems) > show {
			r.problems = append(r.problems[:show], fmt.Sprintf("... and %d more", len(r.problems)-show))
		}
		t.Errorf("chaos %s: runs lost, doubled or wrong:\n  %s", scenario, strings.Join(r.problems, "\n  "))
	}
	return r
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// exactSuccess lists how a run's status differs from a clean success of
// steps: phase, observed generation, state, progress, every step, and the
// conditions. Empty means exact.
func exactSuccess(sj *v1alpha1.SequentialJob, steps []string) []string {
	c := &collector{prefix: sj.Name + ": "}
	s := sj.Status
	if !c.eq("phase", v1alpha1.PhaseSucceeded, s.Phase) {
		return append(c.problems, fmt.Sprintf("%s: status %+v", sj.Name, s)) // the rest would only repeat it
	}
	c.eq("observedGeneration", sj.Generation, s.ObservedGeneration)
	c.eq("state", v1alpha1.ExecutionState{Succeeded: int32(len(steps))}, s.State)
	var indices []int32
	for i := range steps {
		indices = append(indices, int32(i))
	}
	c.eq("progress.completedIndices", indices, s.Progress.CompletedIndices)
	c.eq("progress.failedIndex is nil", true, s.Progress.FailedIndex == nil)
	c.eq("progress.failureReason", "", s.Progress.FailureReason)
	c.eq("progress.summary", fmt.Sprintf("%d/%d", len(steps), len(steps)), s.Progress.Summary)
	if c.eq("len(steps)", len(steps), len(s.Steps)) {
		for i, step := range s.Steps {
			c.eq(fmt.Sprintf("steps[%d].name", i), steps[i], step.Name)
			c.eq(fmt.Sprintf("steps[%d].phase", i), v1alpha1.PhaseSucceeded, step.Phase)
			c.eq(fmt.Sprintf("steps[%d].jobName", i), fmt.Sprintf("%s-%d", sj.Name, i), step.JobName)
		}
	}
	c.eq("Available=True", true, meta.IsStatusConditionTrue(s.Conditions, v1alpha1.ConditionAvailable))
	c.eq("Failed=False", true, meta.IsStatusConditionFalse(s.Conditions, v1alpha1.ConditionFailed))
	c.eq("Progressing=False", true, meta.IsStatusConditionFalse(s.Conditions, v1alpha1.ConditionProgressing))
	c.eq("no Reconciling condition", true, meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReconciling) == nil)
	c.eq("no Stalled condition", true, meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionStalled) == nil)
	return c.problems
}

// collector keeps a run's differences instead of failing the test, so a
// scenario counts its exact runs and still prints its figures.
type collector struct {
	prefix   string
	problems []string
}

func (c *collector) eq(what string, want, got any) bool {
	if reflect.DeepEqual(want, got) {
		return true
	}
	c.problems = append(c.problems, fmt.Sprintf("%s%s: got %v, want %v", c.prefix, what, got, want))
	return false
}

// eventTally counts a run's transition events against the ones it should
// have (a start and a success per step, and the run's completion).
func eventTally(ctx context.Context, ns, name string, steps int) (lost, repeated int, err error) {
	events, err := sjEvents(ctx, ns, name)
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]int{}
	for _, e := range events {
		switch e.Reason {
		case v1alpha1.EventStepStarted, v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted:
			n := int(e.Count)
			if e.Series != nil && int(e.Series.Count) > n {
				n = int(e.Series.Count)
			}
			seen[e.Reason+" "+e.Message] += max(n, 1)
		}
	}
	want := 2*steps + 1
	for _, n := range seen {
		repeated += n - 1
	}
	return want - len(seen), repeated, nil
}
