package soak

import (
	"fmt"
	"time"
)

// maxGrowth is how much a figure may grow over the soak's second half.
const maxGrowth = 0.10

// sample is one reading of the controller's figures, at a time since the
// stream of runs started.
type sample struct {
	at     time.Duration
	values map[string]float64
}

// figure is one of the figures the soak watches for growth. slack is an
// absolute allowance on top of maxGrowth, for figures that are small
// counts: a mean that goes from 0.2 to 1.4 entries is noise, not a leak.
type figure struct {
	name  string
	unit  string
	slack float64
}

// growth is one figure's verdict under the rule: the mean of the samples in
// the last quarter of the soak against the mean of those in its second
// quarter (the first quarter is warm-up: caches fill, the heap finds its
// size). It grew when last > second*(1+maxGrowth) + slack. Means over a
// quarter, not single samples, so that one garbage collection or one burst
// of runs decides nothing.
type growth struct {
	figure
	second, last float64
	n2, n4       int
}

func (g growth) grew() bool { return g.last > g.second*(1+maxGrowth)+g.slack }

func (g growth) String() string {
	verdict := "ok"
	if g.grew() {
		verdict = "GREW"
	}
	change := 0.0
	if g.second != 0 {
		change = 100 * (g.last - g.second) / g.second
	}
	return fmt.Sprintf("%-22s 2nd quarter %12s (n=%d)  last quarter %12s (n=%d)  %+6.1f%%  %s",
		g.name, g.format(g.second), g.n2, g.format(g.last), g.n4, change, verdict)
}

func (f figure) format(v float64) string {
	if f.unit == "MiB" {
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return fmt.Sprintf("%.1f", v)
}

// growthOf applies the rule to the samples of a soak that lasted total.
// Samples without the figure are left out; a quarter with no sample gives
// a mean of 0 and n=0, which the caller reports as too short a soak.
func growthOf(f figure, samples []sample, total time.Duration) growth {
	g := growth{figure: f}
	var sum2, sum4 float64
	for _, s := range samples {
		v, ok := s.values[f.name]
		if !ok {
			continue
		}
		switch {
		case s.at >= total/4 && s.at < total/2:
			sum2 += v
			g.n2++
		case s.at >= total*3/4 && s.at <= total:
			sum4 += v
			g.n4++
		}
	}
	if g.n2 > 0 {
		g.second = sum2 / float64(g.n2)
	}
	if g.n4 > 0 {
		g.last = sum4 / float64(g.n4)
	}
	return g
}
