package soak

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// recorder keeps, from the soak's own watches, what every run left: its
// latest state (the last one seen before it went, for a run that is gone),
// every Job it ever had, and every event about it. Nothing is forgotten:
// the checks run at the end, over every run of the soak.
type recorder struct {
	mu sync.Mutex
	// runs is the latest of each SequentialJob seen, by UID.
	runs map[types.UID]*v1alpha1.SequentialJob
	gone map[types.UID]time.Time
	// jobs are the Jobs each run controlled, by Job UID.
	jobs map[types.UID]map[types.UID]jobRecord
	// events are the events about each run, by event UID, with their
	// counts.
	events map[types.UID]map[types.UID]eventRecord
}

type jobRecord struct {
	name, step, attempt string
	finally             bool
}

func (j jobRecord) identity() string {
	f := ""
	if j.finally {
		f = " (finally)"
	}
	return fmt.Sprintf("%s attempt %s%s", j.step, j.attempt, f)
}

type eventRecord struct {
	key   string
	count int
}

func newRecorder() *recorder {
	return &recorder{runs: map[types.UID]*v1alpha1.SequentialJob{}, gone: map[types.UID]time.Time{},
		jobs: map[types.UID]map[types.UID]jobRecord{}, events: map[types.UID]map[types.UID]eventRecord{}}
}

func (r *recorder) handlers(observe func(obj any), deleted func(obj any)) toolscache.ResourceEventHandlerFuncs {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if deleted != nil {
				deleted(obj)
			}
		},
	}
}

func (r *recorder) observeRun(obj any) {
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, gone := r.gone[sj.UID]; gone {
		return
	}
	// A delete bumps a custom resource's generation without a status
	// change: a run's end is judged on its last state before the delete.
	if sj.DeletionTimestamp.IsZero() || r.runs[sj.UID] == nil {
		r.runs[sj.UID] = sj
	}
}

func (r *recorder) runGone(obj any) {
	sj, ok := obj.(*v1alpha1.SequentialJob)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs[sj.UID] == nil {
		r.runs[sj.UID] = sj
	}
	r.gone[sj.UID] = time.Now()
}

func (r *recorder) observeJob(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	owner := metav1.GetControllerOfNoCopy(job)
	if owner == nil || owner.Kind != "SequentialJob" {
		return
	}
	attempt := job.Labels[v1alpha1.LabelStepAttempt]
	if attempt == "" {
		attempt = "1"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[owner.UID] == nil {
		r.jobs[owner.UID] = map[types.UID]jobRecord{}
	}
	r.jobs[owner.UID][job.UID] = jobRecord{name: job.Name, step: job.Labels[v1alpha1.LabelStepName], attempt: attempt,
		finally: job.Labels[v1alpha1.LabelFinally] != ""}
}

// notTransitions are event reasons that are not a transition's, so may
// legitimately come more than once: a retried apiserver error, and the
// cleanup's two notes (the Jobs deleted, the finalizer removed).
var notTransitions = map[string]bool{v1alpha1.EventReconciliationFailed: true, v1alpha1.EventCleanup: true}

func (r *recorder) observeEvent(obj any) {
	e, ok := obj.(*corev1.Event)
	if !ok || e.InvolvedObject.Kind != "SequentialJob" || notTransitions[e.Reason] {
		return
	}
	key := e.Reason
	if e.Related != nil {
		key += " " + e.Related.Name
	}
	n := max(int(e.Count), 1)
	if e.Series != nil {
		n = max(n, int(e.Series.Count))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events[e.InvolvedObject.UID] == nil {
		r.events[e.InvolvedObject.UID] = map[types.UID]eventRecord{}
	}
	r.events[e.InvolvedObject.UID][e.UID] = eventRecord{key: key, count: n}
}

// latest is the latest state seen of a run, and whether it is gone.
func (r *recorder) latest(uid types.UID) (*v1alpha1.SequentialJob, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, gone := r.gone[uid]
	return r.runs[uid], gone
}

// verdict is the check of one run.
type verdict struct {
	// problems are what makes the soak fail: a lost or doubled step or
	// Job, a repeated or missing event, a run that did not end as its kind
	// must.
	problems []string
	jobs     int
	events   int
	// expiredAfter is, for a run with a TTL, how long after it completed
	// it was gone (as the soak's watch saw it).
	expiredAfter time.Duration
}

// check checks one run that is gone: one Job per step and attempt, each
// one its status names (and no other); every step of its kind succeeded,
// in a run that succeeded; each transition's event once.
func (r *recorder) check(rn *run) verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	var v verdict
	problem := func(format string, args ...any) { v.problems = append(v.problems, fmt.Sprintf(format, args...)) }
	sj := r.runs[rn.uid]
	if sj == nil {
		problem("never seen by the soak's watch")
		return v
	}
	if _, gone := r.gone[rn.uid]; !gone {
		problem("never went (phase %s)", sj.Status.Phase)
	}

	// Jobs: one per step and attempt, whatever the run's fate.
	byIdentity := map[string][]string{}
	names := map[string]bool{}
	for _, j := range r.jobs[rn.uid] {
		byIdentity[j.identity()] = append(byIdentity[j.identity()], j.name)
		names[j.name] = true
	}
	v.jobs = len(r.jobs[rn.uid])
	for _, id := range sortedKeys(byIdentity) {
		if len(byIdentity[id]) > 1 {
			problem("doubled: %s has %d Jobs %v", id, len(byIdentity[id]), byIdentity[id])
		}
	}

	// Events: each transition once.
	counts := map[string]int{}
	for _, e := range r.events[rn.uid] {
		counts[e.key] += e.count
		v.events += e.count
	}
	for _, k := range sortedKeys(counts) {
		if counts[k] > 1 {
			problem("repeated: event %q posted %d times", k, counts[k])
		}
	}
	if rn.kind == deleted {
		return v // deleted mid-run: it ends in no particular state
	}

	// A run that ended: as its kind must, with the Jobs its status names.
	if !ended(sj) || sj.Status.Phase != v1alpha1.PhaseSucceeded {
		problem("ended %s (observedGeneration %d of %d): %s", sj.Status.Phase, sj.Status.ObservedGeneration, sj.Generation, sj.Status.Progress.FailureReason)
	}
	var stepNames []string
	named := map[string]bool{}
	for _, entries := range [][]v1alpha1.StepStatus{sj.Status.Steps, sj.Status.Finally} {
		for _, s := range entries {
			stepNames = append(stepNames, s.Name)
			if s.Phase != v1alpha1.PhaseSucceeded {
				problem("step %s ended %s", s.Name, s.Phase)
			}
			for _, jobName := range append([]string{s.JobName}, attemptJobs(s)...) {
				if jobName == "" {
					continue
				}
				named[jobName] = true
				if !names[jobName] {
					problem("lost: step %s's Job %s was never seen", s.Name, jobName)
				}
				if counts[v1alpha1.EventStepStarted+" "+jobName] == 0 {
					problem("lost: no %s event for Job %s", v1alpha1.EventStepStarted, jobName)
				}
			}
			if s.JobName != "" && counts[v1alpha1.EventStepSucceeded+" "+s.JobName] == 0 {
				problem("lost: no %s event for Job %s", v1alpha1.EventStepSucceeded, s.JobName)
			}
		}
	}
	for _, n := range sortedKeys(names) {
		if !named[n] {
			problem("doubled: Job %s is not in the run's status", n)
		}
	}
	if want := rn.kind.wantSteps(rn.stage >= 1); !slices.Equal(stepNames, want) {
		problem("steps %v, want %v", stepNames, want)
	}
	if goneAt, ok := r.gone[rn.uid]; ok && sj.Spec.TTLSecondsAfterFinished != nil && sj.Status.CompletionTime != nil {
		v.expiredAfter = goneAt.Sub(sj.Status.CompletionTime.Time)
	}
	if counts[v1alpha1.ReasonCompleted] == 0 {
		problem("lost: no %s event", v1alpha1.ReasonCompleted)
	}
	if rn.kind == retried && (sj.Status.RetryToken != retryToken || len(r.jobs[rn.uid]) != 4) {
		problem("retried: retryToken %q, %d Jobs (want %q, 4)", sj.Status.RetryToken, len(r.jobs[rn.uid]), retryToken)
	}
	return v
}

func attemptJobs(s v1alpha1.StepStatus) []string {
	var out []string
	for _, a := range s.PreviousAttempts {
		out = append(out, a.JobName)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func join(lines []string) string { return strings.Join(lines, "\n  ") }
