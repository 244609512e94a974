package bench

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
