package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// progressPrinter prints one line per transition, as render computes them
// between two statuses the informer delivers, and one when a SequentialJob
// finishes. A step that waits and retries prints as Pending with its
// reason, as kubectl get sqj shows it: only a Failed phase is a failure.
type progressPrinter struct {
	out     io.Writer
	start   time.Time
	changed chan struct{}

	mu sync.Mutex
	// last is the last status seen of every SequentialJob, by UID.
	last  map[types.UID]v1alpha1.SequentialJobStatus
	state map[types.UID]sjSummary
}

type sjSummary struct {
	finished bool
	failed   bool
}

func newProgressPrinter(out io.Writer, start time.Time) *progressPrinter {
	return &progressPrinter{
		out:     out,
		start:   start,
		changed: make(chan struct{}, 1),
		last:    map[types.UID]v1alpha1.SequentialJobStatus{},
		state:   map[types.UID]sjSummary{},
	}
}

func (p *progressPrinter) observe(obj any) {
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.last[sj.UID]
	p.last[sj.UID] = *sj.Status.DeepCopy()
	name := sj.Namespace + "/" + sj.Name
	for _, t := range render.Transitions(old, sj.Status) {
		if line := progressLine(sj, t); line != "" {
			fmt.Fprintf(p.out, "%-8s %s  %s\n", "+"+since(p.start), name, line)
		}
	}
	phase := sj.Status.Phase
	p.state[sj.UID] = sjSummary{
		finished: phase.Terminal(),
		failed:   phase == v1alpha1.PhaseFailed,
	}
	p.notify()
}

// progressLine tells one transition. Indices are 0-based, as in the status
// (currentIndex, failedIndex) and the controller's events.
func progressLine(sj *v1alpha1.SequentialJob, t render.Transition) string {
	if t.IsRun() {
		return runLine(sj.Status, t)
	}
	return stepLine(sj.Status, t)
}

// runLine is progressLine for a transition of the run.
func runLine(status v1alpha1.SequentialJobStatus, t render.Transition) string {
	switch {
	case t.To == v1alpha1.PhaseSuspended:
		return "Suspended"
	case t.To == v1alpha1.PhaseWaiting:
		return fmt.Sprintf("Waiting for approval of step %d (%s)", status.Progress.CurrentIndex, status.Progress.CurrentStep)
	case t.From == v1alpha1.PhaseSuspended:
		return "Resumed"
	case t.From == v1alpha1.PhaseWaiting && !t.To.Terminal():
		return "Approved"
	case t.To != v1alpha1.PhaseSucceeded && t.To != v1alpha1.PhaseFailed:
		return ""
	}
	line := string(t.To) + took(status.StartTime, status.CompletionTime)
	if failed := apimeta.FindStatusCondition(status.Conditions, v1alpha1.ConditionFailed); t.To == v1alpha1.PhaseFailed && failed != nil && failed.Message != "" {
		line += ": " + failed.Message
	}
	return line
}

// stepLine is progressLine for a transition of a step.
func stepLine(status v1alpha1.SequentialJobStatus, t render.Transition) string {
	step := t.Entry(status)
	line := fmt.Sprintf("step %d/%d (%s)  %s", t.Index, len(status.Steps), t.Step, t.To)
	if t.Finally {
		line = fmt.Sprintf("finally %d/%d (%s)  %s", t.Index, len(status.Finally), t.Step, t.To)
	}
	if step.Attempt > 1 && t.Started {
		line += fmt.Sprintf(" (attempt %d)", step.Attempt)
	}
	switch {
	case t.To == v1alpha1.PhasePending && t.Reason == "":
		return line + ": no longer waiting"
	case t.To == v1alpha1.PhasePending && t.Reason == v1alpha1.ReasonAwaitingApproval:
		// Nothing is retried: the run waits for a person (kubectl sequentialjob approve).
		return line + ": " + t.Message
	case t.To == v1alpha1.PhasePending:
		return line + ": waiting, retried by the controller: " + t.Reason + " (" + t.Message + ")"
	}
	line += took(step.StartTime, step.CompletionTime)
	if (t.To == v1alpha1.PhaseFailed || t.To == v1alpha1.PhaseSkipped) && t.Reason != "" {
		line += ": " + t.Reason
		if t.Message != "" {
			line += " (" + t.Message + ")"
		}
	}
	if step.Result != "" && t.To.Terminal() {
		line += fmt.Sprintf("  result: %q", step.Result)
	}
	return line
}

// took is " after <duration>" when both times are set, else "".
func took(start, end *metav1.Time) string {
	if start == nil || end == nil {
		return ""
	}
	return fmt.Sprintf(" after %s", end.Sub(start.Time).Round(100*time.Millisecond))
}

func (p *progressPrinter) forget(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.last, sj.UID)
	delete(p.state, sj.UID)
	fmt.Fprintf(p.out, "%-8s %s/%s  deleted\n", "+"+since(p.start), sj.Namespace, sj.Name)
	p.notify()
}

func (p *progressPrinter) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// allDone reports whether at least one SequentialJob exists and all have
// finished, and whether any of them failed.
func (p *progressPrinter) allDone() (done, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.state) == 0 {
		return false, false
	}
	for _, s := range p.state {
		if !s.finished {
			return false, false
		}
		failed = failed || s.failed
	}
	return true, failed
}

func since(t time.Time) string {
	return time.Since(t).Round(100 * time.Millisecond).String()
}

// relPath shortens path to be relative to the working directory when it is
// inside it, as a user would type it.
func relPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return abs
	}
	return rel
}
