package bench

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// handoffs stamps, from a watch on step Jobs, when each Job was first seen
// and when it was first seen Complete. A handoff is the time from seeing
// step i's Job Complete to seeing step i+1's Job created.
type handoffs struct {
	mu       sync.Mutex
	added    map[string]time.Time // by namespace/name
	complete map[string]time.Time
	jobs     map[string]*batchv1.Job
}

func newHandoffs() *handoffs {
	return &handoffs{added: map[string]time.Time{}, complete: map[string]time.Time{}, jobs: map[string]*batchv1.Job{}}
}

// observe is an informer's add and update handler. Jobs that no
// SequentialJob labels (a baseline's) are not steps.
func (h *handoffs) observe(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok || job.Labels[v1alpha1.LabelSequentialJob] == "" {
		return
	}
	now := time.Now()
	key := job.Namespace + "/" + job.Name
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, seen := h.added[key]; !seen {
		h.added[key] = now
		h.jobs[key] = job
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
	for key, job := range h.jobs {
		index, err := strconv.Atoi(job.Labels[v1alpha1.LabelStepIndex])
		if err != nil || index == 0 {
			continue
		}
		prev := job.Namespace + "/" + render.JobName(job.Labels[v1alpha1.LabelSequentialJob], index-1)
		if done, ok := h.complete[prev]; ok {
			out = append(out, h.added[key].Sub(done))
		}
	}
	return out
}

// stepsBySequentialJob counts the Jobs seen per SequentialJob and step
// name: more than one for a step means it ran twice.
func (h *handoffs) stepsBySequentialJob() map[string]map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[string]int{}
	for _, job := range h.jobs {
		sj := job.Namespace + "/" + job.Labels[v1alpha1.LabelSequentialJob]
		if out[sj] == nil {
			out[sj] = map[string]int{}
		}
		out[sj][job.Labels[v1alpha1.LabelStepName]]++
	}
	return out
}

func jobComplete(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// distribution is the summary of a set of durations.
type distribution struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(ds []time.Duration) distribution {
	if len(ds) == 0 {
		return distribution{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return distribution{n: len(s), p50: at(0.50), p90: at(0.90), p99: at(0.99), max: s[len(s)-1]}
}

func (d distribution) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", ms(d.p50), ms(d.p90), ms(d.p99), ms(d.max), d.n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// procStats is what Linux says about a process: CPU time used, and its
// resident memory now and at its peak.
type procStats struct {
	cpu       time.Duration
	rss, peak int64 // bytes
	// anon is the part of rss that is the process's own memory (heap,
	// stacks), not pages of its executable file.
	anon int64
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100
// on every architecture Go supports.
const clockTicks = 100

func readProc(pid int) (procStats, error) {
	var s procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces; the fields after it are fixed.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			s.rss = kb * 1024
		case "VmHWM":
			s.peak = kb * 1024
		case "RssAnon":
			s.anon = kb * 1024
		}
	}
	return s, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// figure prints one figure, one line, to stdout: the benchmark's output.
func figure(name, format string, args ...any) {
	fmt.Printf("%-44s %s\n", name+":", fmt.Sprintf(format, args...))
}
