package e2e

import (
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"
)

var (
	chaosMu      sync.Mutex
	chaosResults []chaosResult
)

func recordChaos(r chaosResult) {
	chaosMu.Lock()
	defer chaosMu.Unlock()
	chaosResults = append(chaosResults, r)
}

// printChaosSummary prints one line per chaos scenario that ran (make chaos
// runs them all). The binary's exit code is the tests': a scenario whose
// runs were lost, doubled or wrong has failed.
func printChaosSummary(w io.Writer) {
	chaosMu.Lock()
	defer chaosMu.Unlock()
	if len(chaosResults) == 0 {
		return
	}
	fmt.Fprintln(w, "\nchaos summary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\truns\tinjected\texact\tlost\tJobs doubled\tout of order\torphan Jobs\tevents lost\tevents repeated\ttook\tresult")
	for _, r := range chaosResults {
		result := "ok"
		if r.Failed || !r.Clean() {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Scenario, r.Runs, r.Injected, r.Exact, r.Lost,
			r.Doubled, r.OutOfOrder, r.Orphans, r.EventsLost, r.EventsRepeated, r.Took.Round(time.Second), result)
	}
	_ = tw.Flush()
}
