//go:build linux

package upgrade

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/test/fixtures"
)

// kind is what a run exercises besides its steps; run i is of kind i%kinds.
type kind int

const (
	// plain has steps only.
	plain kind = iota
	// withFinally has a finally step.
	withFinally
	// withResults: every step writes a result (its termination message).
	withResults
	// retried fails at its second step (backoffLimit 0), and the actor
	// retries it with a new spec.retryToken that also lifts the failure.
	retried
	// suspended is suspended by the actor once its first step succeeded,
	// and resumed once its workload allows it (resume).
	suspended
	kinds
)

func (k kind) String() string {
	return [...]string{"plain", "finally", "results", "retried", "suspended"}[k]
}

const (
	retryToken  = "retry-1"
	finallyStep = "cleanup"
)

// workload is one namespace of runs, all created at once, and the user
// that retries and suspends them (act).
type workload struct {
	ns    string
	names []string
	steps []string
	// resume lets act clear spec.suspend of a Suspended run.
	resume atomic.Bool

	mu sync.Mutex
	// stage is per run how far act got: 1 once the retry or the suspend
	// was sent, 2 once the resume was.
	stage map[string]int
	errs  []string
}

func newWorkload(ns string, runs, steps int) *workload {
	w := &workload{ns: ns, stage: map[string]int{}}
	for i := range steps {
		w.steps = append(w.steps, fmt.Sprintf("s%d", i))
	}
	for i := range runs {
		w.names = append(w.names, fmt.Sprintf("run-%02d-%s", i, kind(i%int(kinds))))
	}
	return w
}

func (w *workload) kindOf(name string) kind {
	for i, n := range w.names {
		if n == name {
			return kind(i % int(kinds))
		}
	}
	panic("no run " + name)
}

// spec is run name's SequentialJob: the same for every workload, so that a
// fresh run of it is the reference for an upgraded one.
func (w *workload) spec(name string, duration string) *v1alpha1.SequentialJob {
	b := fixtures.MakeSequentialJob(w.ns, name).Steps(w.steps...).Duration(duration)
	switch w.kindOf(name) {
	case plain:
	case withFinally:
		b.Finally(finallyStep)
	case withResults:
		for _, s := range w.steps {
			b.Result(s, fmt.Sprintf("%s of %s", s, name))
		}
	case retried:
		b.ExitCode(w.steps[1], 1).BackoffLimit(0).Finally(finallyStep)
	case suspended:
		// Long enough that the suspend lands while it runs.
		d, _ := time.ParseDuration(duration)
		b.StepDuration(w.steps[1], (4 * d).String())
	}
	return b.Obj()
}

func (w *workload) create(ctx context.Context, c client.Client, duration string) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns}}); err != nil {
		return err
	}
	for _, name := range w.names {
		if err := c.Create(ctx, w.spec(name, duration)); err != nil {
			return fmt.Errorf("creating %s/%s: %w", w.ns, name, err)
		}
	}
	return nil
}

func (w *workload) list(ctx context.Context, c client.Client) (map[string]*v1alpha1.SequentialJob, error) {
	list := &v1alpha1.SequentialJobList{}
	if err := c.List(ctx, list, client.InNamespace(w.ns)); err != nil {
		return nil, err
	}
	out := map[string]*v1alpha1.SequentialJob{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// act is the user: once over every run, it retries a Failed run of kind
// retried, suspends a run of kind suspended whose first step succeeded, and
// resumes it when w.resume is set. Errors are kept for the test (act runs
// in its own goroutine).
func (w *workload) act(ctx context.Context, c client.Client) {
	runs, err := w.list(ctx, c)
	if err != nil {
		return // the next round retries
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, sj := range runs {
		var patch string
		next := w.stage[name] + 1
		switch {
		case w.kindOf(name) == retried && w.stage[name] == 0 && sj.Status.Phase == v1alpha1.PhaseFailed:
			patch = fmt.Sprintf(`{"spec":{"retryToken":%q,"template":{"metadata":{"annotations":{%q:null}}}}}`,
				retryToken, localcluster.AnnotationExitCode+"."+w.steps[1])
		case w.kindOf(name) == suspended && w.stage[name] == 0 && len(sj.Status.Steps) > 0 && sj.Status.Steps[0].Phase == v1alpha1.PhaseSucceeded:
			patch = `{"spec":{"suspend":true}}`
		case w.kindOf(name) == suspended && w.stage[name] == 1 && w.resume.Load() && sj.Status.Phase == v1alpha1.PhaseSuspended:
			patch = `{"spec":{"suspend":false}}`
		default:
			continue
		}
		if err := c.Patch(ctx, sj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			w.errs = append(w.errs, fmt.Sprintf("%s: patch %s: %v", name, patch, err))
			continue
		}
		w.stage[name] = next
	}
}

// done reports whether a run has ended with everything act had to do done
// and seen by the controller.
func (w *workload) done(sj *v1alpha1.SequentialJob) bool {
	s := sj.Status
	if !s.Phase.Terminal() || s.ObservedGeneration != sj.Generation {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.kindOf(sj.Name) {
	case retried:
		return s.RetryToken == retryToken
	case suspended:
		return w.stage[sj.Name] == 2
	}
	return true
}

// succeededSteps counts the steps that have succeeded over every run.
func (w *workload) succeededSteps(ctx context.Context, c client.Client) int {
	runs, err := w.list(ctx, c)
	if err != nil {
		return 0
	}
	n := 0
	for _, sj := range runs {
		n += int(sj.Status.State.Succeeded)
	}
	return n
}

// runUntilDone acts until every run is done or ctx ends; it returns the
// runs not done.
func (w *workload) runUntilDone(ctx context.Context, c client.Client) []string {
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		w.act(ctx, c)
		var left []string
		if runs, err := w.list(ctx, c); err == nil {
			for _, name := range w.names {
				if sj := runs[name]; sj == nil || !w.done(sj) {
					left = append(left, name)
				}
			}
			if len(left) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if left == nil {
				left = w.names
			}
			return left
		case <-tick.C:
		}
	}
}

// actUntil acts in the background until stop is called.
func (w *workload) actUntil(ctx context.Context, c client.Client) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			w.act(ctx, c)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// jobKey is a step Job as a user tells it apart: its name, its step and the
// attempt.
type jobKey struct {
	Name, Step, Attempt string
	Finally             bool
}

func (k jobKey) String() string {
	f := ""
	if k.Finally {
		f = " (finally)"
	}
	return fmt.Sprintf("%s: %s attempt %s%s", k.Name, k.Step, k.Attempt, f)
}

// jobsOf lists every run's Jobs, in the order they were created.
func jobsOf(ctx context.Context, c client.Client, ns string) (map[string][]batchv1.Job, error) {
	list := &batchv1.JobList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := map[string][]batchv1.Job{}
	for _, j := range list.Items {
		owner := j.Labels[v1alpha1.LabelSequentialJob]
		out[owner] = append(out[owner], j)
	}
	for _, jobs := range out {
		sort.SliceStable(jobs, func(a, b int) bool {
			ta, tb := jobs[a].CreationTimestamp, jobs[b].CreationTimestamp
			if !ta.Equal(&tb) {
				return ta.Before(&tb)
			}
			return jobs[a].Name < jobs[b].Name
		})
	}
	return out, nil
}

func keysOf(jobs []batchv1.Job) []jobKey {
	var out []jobKey
	for _, j := range jobs {
		attempt := j.Labels[v1alpha1.LabelStepAttempt]
		if attempt == "" {
			attempt = "1"
		}
		out = append(out, jobKey{Name: j.Name, Step: j.Labels[v1alpha1.LabelStepName], Attempt: attempt, Finally: j.Labels[v1alpha1.LabelFinally] != ""})
	}
	return out
}

// doubled lists the steps that have more than one Job for one attempt.
func doubled(keys []jobKey) []string {
	seen := map[jobKey]int{}
	var out []string
	for _, k := range keys {
		id := jobKey{Step: k.Step, Attempt: k.Attempt, Finally: k.Finally}
		if seen[id]++; seen[id] == 2 {
			out = append(out, fmt.Sprintf("%s attempt %s has two Jobs or more", k.Step, k.Attempt))
		}
	}
	return out
}

// eventKey is a transition event as a user tells it apart: its reason and
// the Job it is about (none for the run's own events). Messages are left
// out: the previous release may word them otherwise.
func eventKey(e corev1.Event) string {
	if e.Related != nil {
		return e.Reason + " " + e.Related.Name
	}
	return e.Reason
}

// transient events report an error that was retried; they are not
// transitions, and how many there are depends on timing.
var transient = map[string]bool{v1alpha1.EventReconciliationFailed: true}

// eventsOf counts each run's events by eventKey, with the repeats the
// recorder folded into one Event (count, series).
func eventsOf(ctx context.Context, c client.Client, ns string) (map[string]map[string]int, error) {
	list := &corev1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := map[string]map[string]int{}
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "SequentialJob" || transient[e.Reason] {
			continue
		}
		n := max(int(e.Count), 1)
		if e.Series != nil {
			n = max(n, int(e.Series.Count))
		}
		if out[e.InvolvedObject.Name] == nil {
			out[e.InvolvedObject.Name] = map[string]int{}
		}
		out[e.InvolvedObject.Name][eventKey(e)] += n
	}
	return out, nil
}

func repeated(events map[string]int) []string {
	var out []string
	for k, n := range events {
		if n > 1 {
			out = append(out, fmt.Sprintf("%q recorded %d times", k, n))
		}
	}
	sort.Strings(out)
	return out
}

// normalized is a status with what differs between two runs of one spec
// left out: times.
func normalized(s v1alpha1.SequentialJobStatus) v1alpha1.SequentialJobStatus {
	s = *s.DeepCopy()
	s.StartTime, s.ActiveStartTime, s.SuspendTime, s.QueueTime, s.CompletionTime = nil, nil, nil, nil, nil
	for i := range s.Conditions {
		s.Conditions[i].LastTransitionTime = metav1.Time{}
		s.Conditions[i].Message = normalizeMessage(s.Conditions[i].Message)
	}
	s.Progress.FailureReason = normalizeMessage(s.Progress.FailureReason)
	sort.Slice(s.Conditions, func(a, b int) bool { return s.Conditions[a].Type < s.Conditions[b].Type })
	for _, steps := range [][]v1alpha1.StepStatus{s.Steps, s.Finally} {
		for i := range steps {
			steps[i].StartTime, steps[i].CompletionTime = nil, nil
			steps[i].Message = normalizeMessage(steps[i].Message)
			for j := range steps[i].PreviousAttempts {
				a := &steps[i].PreviousAttempts[j]
				a.StartTime, a.CompletionTime = nil, nil
				a.Message = normalizeMessage(a.Message)
			}
		}
	}
	return s
}

// podName is a pod's generated name in a message: it differs between two
// runs of one spec.
var podName = regexp.MustCompile(`(pod \S+-)[a-z0-9]{5}\b`)

func normalizeMessage(m string) string { return podName.ReplaceAllString(m, "${1}*") }

// recordedAt are the transition events a status says happened: what the
// controller that wrote it had to post.
func recordedAt(s v1alpha1.SequentialJobStatus) map[string]bool {
	out := map[string]bool{}
	for _, steps := range [][]v1alpha1.StepStatus{s.Steps, s.Finally} {
		for _, st := range steps {
			if st.StartTime != nil {
				out[v1alpha1.EventStepStarted+" "+st.JobName] = true
			}
			if st.Phase == v1alpha1.PhaseSucceeded {
				out[v1alpha1.EventStepSucceeded+" "+st.JobName] = true
			}
			for _, a := range st.PreviousAttempts {
				out[v1alpha1.EventStepStarted+" "+a.JobName] = true
			}
		}
	}
	switch s.Phase {
	case v1alpha1.PhaseSucceeded:
		out[v1alpha1.ReasonCompleted] = true
	case v1alpha1.PhaseSuspended:
		out[v1alpha1.ReasonSuspended] = true
	}
	return out
}

func join(problems []string) string { return strings.Join(problems, "\n  ") }
