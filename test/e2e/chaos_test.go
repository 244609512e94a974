package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/test/fixtures"
)

var (
	chaosRuns  = flag.Int("chaos.runs", 8, "TestChaosControllerKilled: SequentialJobs (make chaos: 30)")
	chaosSteps = flag.Int("chaos.steps", 5, "TestChaosControllerKilled: steps per SequentialJob")
	chaosKills = flag.Int("chaos.kills", 5, "TestChaosControllerKilled: SIGKILLs of the controller (make chaos: 20)")
)

// TestChaosControllerKilled SIGKILLs the controller at random moments while
// runs go on, starting a new one each time. Every run must end Succeeded
// with its exact status, one Job per step, each created only once the
// previous step's Job was Complete, and no event announced twice. Events
// lost to a kill (a crash between a status write and its events) are
// reported. Not parallel: it kills the shared controller.
func TestChaosControllerKilled(t *testing.T) {
	ns := newNamespace(t)
	jobs := recordJobs(t, ns)
	var stepNames []string
	for i := range *chaosSteps {
		stepNames = append(stepNames, fmt.Sprintf("s%d", i))
	}
	for i := range *chaosRuns {
		createSJ(t, fixtures.MakeSequentialJob(ns, fmt.Sprintf("chaos-%02d", i)).Steps(stepNames...).Duration("1s").Obj())
	}

	ctx, stopKilling := context.WithCancel(context.Background())
	var killer sync.WaitGroup
	killer.Add(1)
	kills := 0
	go func() {
		defer killer.Done()
		for kills < *chaosKills && ctx.Err() == nil {
			time.Sleep(time.Duration(200+rand.IntN(2500)) * time.Millisecond)
			if err := killController(); err != nil {
				t.Errorf("killing the controller: %v", err)
				return
			}
			kills++
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
			if err := startController(context.Background()); err != nil {
				t.Errorf("starting the controller: %v", err)
				return
			}
		}
	}()
	t.Cleanup(func() { stopKilling(); killer.Wait() })

	for i := range *chaosRuns {
		waitForSJ(t, ns, fmt.Sprintf("chaos-%02d", i), "to finish", finished)
	}
	stopKilling()
	killer.Wait()
	jobs.requireSequential(t)

	lost, repeated := 0, 0
	for i := range *chaosRuns {
		name := fmt.Sprintf("chaos-%02d", i)
		sj := getSJ(t, ns, name)
		requireExactSuccess(t, sj, stepNames)
		require.Equal(t, stepNames, jobs.stepsRun(name), "%s: one Job per step, in order", name)
		l, r := eventTally(t, ns, name, len(stepNames))
		lost, repeated = lost+l, repeated+r
	}
	list := jobs.all()
	for _, job := range list {
		require.NotNil(t, metav1.GetControllerOf(&job), "Job %s has no owner", job.Name)
	}
	fmt.Printf("chaos: %d runs x %d steps, %d SIGKILLs: every run exact; events lost %d, repeated %d\n",
		*chaosRuns, *chaosSteps, kills, lost, repeated)
	assert.Zero(t, repeated, "no event is announced twice")
}

// requireExactSuccess checks a succeeded run's whole status.
func requireExactSuccess(t *testing.T, sj *v1alpha1.SequentialJob, steps []string) {
	t.Helper()
	s := sj.Status
	require.Equal(t, v1alpha1.PhaseSucceeded, s.Phase, "%s: %+v", sj.Name, s)
	require.Equal(t, sj.Generation, s.ObservedGeneration)
	require.Equal(t, v1alpha1.ExecutionState{Succeeded: int32(len(steps))}, s.State, sj.Name)
	var indices []int32
	for i := range steps {
		indices = append(indices, int32(i))
	}
	require.Equal(t, indices, s.Progress.CompletedIndices, sj.Name)
	require.Nil(t, s.Progress.FailedIndex, sj.Name)
	require.Equal(t, fmt.Sprintf("%d/%d", len(steps), len(steps)), s.Progress.Summary)
	require.Len(t, s.Steps, len(steps))
	for i, step := range s.Steps {
		require.Equal(t, steps[i], step.Name, sj.Name)
		require.Equal(t, v1alpha1.PhaseSucceeded, step.Phase, "%s step %d", sj.Name, i)
		require.Equal(t, fmt.Sprintf("%s-%d", sj.Name, i), step.JobName)
	}
	require.True(t, meta.IsStatusConditionTrue(s.Conditions, v1alpha1.ConditionAvailable), sj.Name)
	require.True(t, meta.IsStatusConditionFalse(s.Conditions, v1alpha1.ConditionFailed), sj.Name)
	require.True(t, meta.IsStatusConditionFalse(s.Conditions, v1alpha1.ConditionProgressing), sj.Name)
	require.Nil(t, meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionReconciling), sj.Name)
	require.Nil(t, meta.FindStatusCondition(s.Conditions, v1alpha1.ConditionStalled), sj.Name)
}

// eventTally counts a run's transition events against the ones it should
// have (a start and a success per step, and the run's completion).
func eventTally(t *testing.T, ns, name string, steps int) (lost, repeated int) {
	t.Helper()
	events, err := sjEvents(context.Background(), ns, name)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range events {
		switch e.Reason {
		case v1alpha1.EventStepStarted, v1alpha1.EventStepSucceeded, v1alpha1.ReasonCompleted:
			n := int(e.Count)
			if e.Series != nil && int(e.Series.Count) > n {
				n = int(e.Series.Count)
			}
			seen[e.Reason+" "+e.Message] += max(n, 1)
		}
	}
	want := 2*steps + 1
	for _, n := range seen {
		repeated += n - 1
	}
	return want - len(seen), repeated
}
