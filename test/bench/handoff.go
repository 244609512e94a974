package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// The one definition of a handoff that every benchmark prints: as an
// outside watcher sees it, from the ADDED or MODIFIED event in which step
// i's Job is first seen Complete to the event in which step i+1's Job is
// first seen, both stamped by the benchmark's own watch on Jobs. It is what
// a user watching the cluster sees, whoever the controller is: TestScale,
// TestCluster and TestCompare (SequentialJobs and JobSets) all use it.

// stepOf places a Job in its run: the run's key (namespace/name of the
// SequentialJob or JobSet) and the step's position. ok is false for a Job
// that is no step of a run.
type stepOf func(job *batchv1.Job) (run string, index int, ok bool)

// sequentialJobStep places a SequentialJob's step Job, by the labels the
// controller gives it.
func sequentialJobStep(job *batchv1.Job) (string, int, bool) {
	sj := job.Labels[v1alpha1.LabelSequentialJob]
	if sj == "" {
		return "", 0, false
	}
	index, err := strconv.Atoi(job.Labels[v1alpha1.LabelStepIndex])
	if err != nil {
		return "", 0, false
	}
	return job.Namespace + "/" + sj, index, true
}

// JobSet's labels on its Jobs (sigs.k8s.io/jobset/api/jobset/v1alpha2).
const (
	jobSetNameLabel        = "jobset.sigs.k8s.io/jobset-name"
	replicatedJobNameLabel = "jobset.sigs.k8s.io/replicatedjob-name"
)

// jobSetStep places a Job of a benchmark JobSet: its replicatedJobs are
// named step-<i>, each one Job.
func jobSetStep(job *batchv1.Job) (string, int, bool) {
	js := job.Labels[jobSetNameLabel]
	rest, found := strings.CutPrefix(job.Labels[replicatedJobNameLabel], jobSetStepPrefix)
	if js == "" || !found {
		return "", 0, false
	}
	index, err := strconv.Atoi(rest)
	if err != nil {
		return "", 0, false
	}
	return job.Namespace + "/" + js, index, true
}

const jobSetStepPrefix = "step-"

// stepKey is one step of one run.
type stepKey struct {
	run   string
	index int
}

// handoffs stamps, from a watch on Jobs, when each step's Job was first
// seen and when it was first seen Complete, and counts the Jobs of each
// step.
type handoffs struct {
	namespace string // "" for every namespace
	stepOf    stepOf

	mu       sync.Mutex
	jobs     map[string]stepKey // by namespace/name: the Jobs seen
	added    map[stepKey]time.Time
	complete map[stepKey]time.Time
}

// newHandoffs measures the steps that stepOf places, in namespace (or in
// every namespace when it is "").
func newHandoffs(namespace string, stepOf stepOf) *handoffs {
	return &handoffs{namespace: namespace, stepOf: stepOf,
		jobs: map[string]stepKey{}, added: map[stepKey]time.Time{}, complete: map[stepKey]time.Time{}}
}

// observe is an informer's add and update handler.
func (h *handoffs) observe(obj any) {
	now := time.Now()
	job, ok := obj.(*batchv1.Job)
	if !ok || (h.namespace != "" && job.Namespace != h.namespace) {
		return
	}
	run, index, ok := h.stepOf(job)
	if !ok {
		return
	}
	key := stepKey{run, index}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.jobs[job.Namespace+"/"+job.Name] = key
	if _, seen := h.added[key]; !seen {
		h.added[key] = now
	}
	if _, seen := h.complete[key]; !seen && jobComplete(job) {
		h.complete[key] = now
	}
}

// durations are the handoffs seen so far.
func (h *handoffs) durations() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for key, added := range h.added {
		if key.index == 0 {
			continue
		}
		if done, ok := h.complete[stepKey{key.run, key.index - 1}]; ok {
			out = append(out, added.Sub(done))
		}
	}
	return out
}

// firstJobs is, for each run, how long its first step's Job took to be
// seen after created (when the run object was created).
func (h *handoffs) firstJobs(created map[string]time.Time) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for run, at := range created {
		if added, ok := h.added[stepKey{run, 0}]; ok {
			out = append(out, added.Sub(at))
		}
	}
	return out
}

// lastSteps is, for each run of steps steps, how long after its last
// step's Job was seen Complete the run was seen done (doneAt).
func (h *handoffs) lastSteps(steps int, doneAt func(run string) (time.Time, bool)) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for key, complete := range h.complete {
		if key.index != steps-1 {
			continue
		}
		if done, ok := doneAt(key.run); ok {
			out = append(out, done.Sub(complete))
		}
	}
	return out
}

// jobsPerStep counts the Jobs seen per run and step: more than one for a
// step means it ran twice, a step missing means it never ran.
func (h *handoffs) jobsPerStep() map[string]map[int]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[int]int{}
	for _, key := range h.jobs {
		if out[key.run] == nil {
			out[key.run] = map[int]int{}
		}
		out[key.run][key.index]++
	}
	return out
}

// checkOneJobPerStep says what is wrong, if anything, against runs runs
// seen, each with exactly one Job for each of its steps 0..steps-1.
func (h *handoffs) checkOneJobPerStep(runs, steps int) []string {
	var problems []string
	byRun := h.jobsPerStep()
	if len(byRun) != runs {
		problems = append(problems, fmt.Sprintf("saw the Jobs of %d runs, want %d", len(byRun), runs))
	}
	for run, counts := range byRun {
		for i := range steps {
			if counts[i] != 1 {
				problems = append(problems, fmt.Sprintf("%s step %d: %d Jobs, want 1", run, i, counts[i]))
			}
		}
		if len(counts) != steps {
			problems = append(problems, fmt.Sprintf("%s: Jobs for %d steps, want %d", run, len(counts), steps))
		}
	}
	sort.Strings(problems)
	return problems
}

func jobComplete(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
