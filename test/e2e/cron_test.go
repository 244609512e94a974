package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/schedule"
	"example.com/sequentialjob/test/fixtures"
)

// TestCronOneRunPerMinuteForbidHolds: a SequentialCronJob "* * * * *"
// with concurrencyPolicy Forbid creates exactly one run for each of two
// minutes. Each run takes 65 s, so the first is still active when the
// second minute comes: Forbid holds that minute's run (no run, Ready says
// why, a JobAlreadyActive event) and creates it, under that minute's name,
// as soon as the first run ends. successfulRunsHistoryLimit 0 deletes each
// run that succeeded. `kubectl sequentialjob trigger` then creates a run now.
// About 1.5 to 2.2 minutes: up to one to the first minute, 65 s of run.
func TestCronOneRunPerMinuteForbidHolds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	runs := recordRuns(t, ns)
	plugin := buildPlugin(t)

	tmpl := fixtures.MakeSequentialJob(ns, "unused").Steps("work").PodAnnotation(localcluster.AnnotationDuration, "65s").Obj()
	cron := &v1alpha1.SequentialCronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "minutely"},
		Spec: v1alpha1.SequentialCronJobSpec{
			Schedule:                   "* * * * *",
			ConcurrencyPolicy:          v1alpha1.ForbidConcurrent,
			SuccessfulRunsHistoryLimit: ptr.To[int32](0),
			SequentialJobTemplate:      v1alpha1.SequentialJobTemplateSpec{Spec: tmpl.Spec},
		},
	}
	require.NoError(t, k8s.Create(ctx, cron))
	first := cron.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	second := first.Add(time.Minute)
	firstRun, secondRun := schedule.RunName(cron.Name, first), schedule.RunName(cron.Name, second)

	waitFor(t, "the run of the first minute, "+firstRun, func(ctx context.Context) (bool, error) {
		return runs.created(firstRun), nil
	})
	run := getSJ(t, ns, firstRun)
	require.Equal(t, cron.Name, run.Labels[v1alpha1.LabelSequentialCronJob])
	require.Equal(t, cron.UID, metav1.GetControllerOf(run).UID)
	require.Equal(t, first.UTC().Format(time.RFC3339), run.Annotations[v1alpha1.AnnotationScheduledTime])

	// The second minute, while the first run is still active: held.
	time.Sleep(time.Until(second.Add(3 * time.Second)))
	assert.False(t, runs.created(secondRun), "Forbid created %s while %s is active", secondRun, firstRun)
	waitFor(t, "the cron to say Forbid holds the second minute's run", func(ctx context.Context) (bool, error) {
		got := &v1alpha1.SequentialCronJob{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(cron), got); err != nil {
			return false, err
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
		return ready != nil && strings.Contains(ready.Message, "waits: concurrencyPolicy is Forbid and "+firstRun+" is active") &&
			len(got.Status.Active) == 1 && got.Status.Active[0].Name == firstRun, nil
	})
	waitForCronEvent(t, ns, cron.Name, v1alpha1.EventJobAlreadyActive)

	// The first run ends: the held minute runs, under its own name.
	waitFor(t, "the held run "+secondRun, func(ctx context.Context) (bool, error) { return runs.created(secondRun), nil })
	firstDone := runs.finishedAt(firstRun)
	require.False(t, firstDone.IsZero(), "%s was created before %s finished", secondRun, firstRun)
	assert.False(t, runs.createdAt(secondRun).Before(firstDone), "Forbid: %s created at %s, before %s ended at %s",
		secondRun, runs.createdAt(secondRun), firstRun, firstDone)
	waitFor(t, firstRun+" deleted by successfulRunsHistoryLimit 0", func(ctx context.Context) (bool, error) {
		return runs.deleted(firstRun), nil
	})

	// A run now, from the template, whatever Forbid says.
	out, err := triggerWith(plugin, "trigger", cron.Name, "-n", ns)
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, "created")
	manual := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "sequentialjob.batch.example.com/"), " created")
	require.True(t, strings.HasPrefix(manual, cron.Name+"-manual-"), "%s", manual)
	triggered := getSJ(t, ns, manual)
	require.Equal(t, cron.UID, metav1.GetControllerOf(triggered).UID)
	require.Equal(t, "true", triggered.Annotations[v1alpha1.AnnotationTriggered])

	// Stop it, then count: one run per minute, and the triggered one.
	require.NoError(t, k8s.Patch(ctx, cron, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspend":true}}`))))
	assert.Equal(t, []string{firstRun, secondRun, manual}, runs.names(), "runs created")
}

// runRecorder records every run of a namespace as a watch sees it.
type runRecorder struct {
	mu    sync.Mutex
	order []string
	times map[string]time.Time
	done  map[string]time.Time
	gone  map[string]bool
}

func recordRuns(t *testing.T, ns string) *runRecorder {
	t.Helper()
	watcher, err := client.NewWithWatch(cluster.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	w, err := watcher.Watch(context.Background(), &v1alpha1.SequentialJobList{}, client.InNamespace(ns))
	require.NoError(t, err)
	r := &runRecorder{times: map[string]time.Time{}, done: map[string]time.Time{}, gone: map[string]bool{}}
	t.Cleanup(w.Stop)
	go func() {
		for e := range w.ResultChan() {
			sj, ok := e.Object.(*v1alpha1.SequentialJob)
			if !ok {
				continue
			}
			r.observe(e.Type, sj)
		}
	}()
	return r
}

func (r *runRecorder) observe(typ watch.EventType, sj *v1alpha1.SequentialJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.times[sj.Name]; !seen {
		r.order = append(r.order, sj.Name)
		r.times[sj.Name] = sj.CreationTimestamp.Time
	}
	if sj.Status.Phase.Terminal() && sj.Status.CompletionTime != nil {
		r.done[sj.Name] = sj.Status.CompletionTime.Time
	}
	if typ == watch.Deleted {
		r.gone[sj.Name] = true
	}
}

func (r *runRecorder) created(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.times[name]
	return ok
}

func (r *runRecorder) createdAt(name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.times[name]
}

func (r *runRecorder) finishedAt(name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[name]
}

func (r *runRecorder) deleted(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gone[name]
}

func (r *runRecorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

// waitForCronEvent waits for a Normal event with reason about the cron.
func waitForCronEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	waitFor(t, "a "+reason+" event about "+name, func(ctx context.Context) (bool, error) {
		list := &corev1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "SequentialCronJob" && e.InvolvedObject.Name == name && e.Reason == reason {
				return true, nil
			}
		}
		return false, nil
	})
}

// buildPlugin builds this checkout's kubectl plugin into a directory of its
// own, so the test runs the trigger it tests, the way users run it
// (`kubectl sequentialjob`, found on PATH).
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-sequentialjob"), "./cmd/sequentialjob")
	build.Dir = repoRoot()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dir
}

func triggerWith(pluginDir string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir(), "kubectl"), append([]string{"sequentialjob"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
