package soak

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestGrowthRule holds the soak's failure rule (growthOf): it runs in
// `make test`, the soak itself does not.
func TestGrowthRule(t *testing.T) {
	const total = 40 * time.Minute
	series := func(f func(minute int) float64) []sample {
		var out []sample
		for m := 0; m <= 40; m++ {
			out = append(out, sample{at: time.Duration(m) * time.Minute, values: map[string]float64{"x": f(m)}})
		}
		return out
	}
	cases := []struct {
		name, reason string
		values       func(minute int) float64
		slack        float64
		grew         bool
	}{
		{name: "flat", reason: "a steady figure does not grow", values: func(int) float64 { return 100 }},
		{name: "warm-up", reason: "growth in the first quarter is warm-up, not a leak",
			values: func(m int) float64 { return float64(min(m, 10)) * 10 }},
		{name: "slow leak", reason: "1% a minute is 20% over the second half",
			values: func(m int) float64 { return 100 + float64(m) }, grew: true},
		{name: "noise", reason: "one spike in the last quarter moves its mean less than 10%",
			values: func(m int) float64 {
				if m == 35 {
					return 200
				}
				return 100
			}},
		{name: "small count", reason: "a count near zero stays within its absolute slack",
			values: func(m int) float64 { return float64(m % 3) }, slack: 2},
		{name: "from zero", reason: "a count that starts at zero and keeps growing exceeds its slack",
			values: func(m int) float64 { return float64(max(m-10, 0)) }, slack: 2, grew: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := growthOf(figure{name: "x", slack: c.slack}, series(c.values), total)
			assert.Equal(t, c.grew, g.grew(), "%s: %s", c.reason, g)
			assert.Equal(t, 10, g.n2, "samples in the second quarter")
			assert.Equal(t, 11, g.n4, "samples in the last quarter")
		})
	}
}
