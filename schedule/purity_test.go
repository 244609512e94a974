package schedule_test

import (
	"testing"

	"example.com/sequentialjob/test/fixtures"
)

// TestDecideIsPure: the decision imports no client and no clock, and reads
// no time, as render: its output is a function of the cron, its runs and
// now.
func TestDecideIsPure(t *testing.T) { fixtures.RequirePure(t, "schedule") }
