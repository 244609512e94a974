package render

import "testing"

// TestEveryStateHasARow: a state added without its row in the table would
// have no phase, no conditions and no requeue.
func TestEveryStateHasARow(t *testing.T) {
	for _, s := range []runState{stateRunning, stateQueued, stateSuspended, stateBlocked, stateHeld, stateRetrying,
		stateErroring, stateFinally, stateSucceeded, stateFailed, stateWaiting} {
		row, ok := states[s]
		if !ok || row.phase == nil || row.text == nil || len(row.holds) == 0 {
			t.Errorf("state %s has no complete row in the state table", s)
		}
	}
	if len(states) != 11 {
		t.Errorf("the table has %d rows; TestEveryStateHasARow lists 11 states", len(states))
	}
}
