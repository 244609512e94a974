package e2e

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// eventually bounds waits for an eventual state. It is generous on purpose:
// the tests check what happens, not how fast (a loaded 2-core CI machine
// runs several test binaries at once).
const eventually = 3 * time.Minute

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: strings.Trim(name, "-") + "-" + rand.String(5)}}
	require.NoError(t, k8s.Create(context.Background(), ns))
	t.Cleanup(func() {
		if !t.Failed() {
			_ = k8s.Delete(context.Background(), ns)
		}
	})
	return ns.Name
}

func createSJ(t *testing.T, sj *v1alpha1.SequentialJob) {
	t.Helper()
	want := sj.Spec.Template.Annotations
	require.NoError(t, k8s.Create(context.Background(), sj), "creating SequentialJob %s", sj.Name)
	// The simulation annotations must survive the apiserver's pruning, or
	// every pod runs with the defaults and the test means nothing.
	require.Equal(t, want, sj.Spec.Template.Annotations,
		"the apiserver dropped spec.template.metadata: the CRD's schema must declare the embedded ObjectMeta (controller-gen crd:generateEmbeddedObjectMeta=true)")
}

func getSJ(t *testing.T, ns, name string) *v1alpha1.SequentialJob {
	t.Helper()
	sj := &v1alpha1.SequentialJob{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, sj))
	return sj
}

// waitFor polls until cond holds, failing the test after eventually.
func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, eventually, true, func(ctx context.Context) (bool, error) {
		if err := cluster.Healthy(); err != nil {
			return false, err
		}
		ok, err := cond(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err != nil {
		if last != nil {
			err = fmt.Errorf("%w (last error: %v)", err, last)
		}
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitForSJ waits until the SequentialJob satisfies cond and returns it.
func waitForSJ(t *testing.T, ns, name, what string, cond func(*v1alpha1.SequentialJob) bool) *v1alpha1.SequentialJob {
	t.Helper()
	sj := &v1alpha1.SequentialJob{}
	waitFor(t, name+": "+what, func(ctx context.Context) (bool, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sj); err != nil {
			return false, err
		}
		return cond(sj), nil
	})
	return sj
}

func finished(sj *v1alpha1.SequentialJob) bool {
	return sj.Status.ObservedGeneration == sj.Generation &&
		(sj.Status.Phase == v1alpha1.PhaseSucceeded || sj.Status.Phase == v1alpha1.PhaseFailed)
}

func stepPhase(sj *v1alpha1.SequentialJob, index int) v1alpha1.Phase {
	if index < len(sj.Status.Steps) {
		return sj.Status.Steps[index].Phase
	}
	return ""
}

// sjEvents lists the events recorded about a SequentialJob.
func sjEvents(ctx context.Context, ns, name string) ([]corev1.Event, error) {
	list := &corev1.EventList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "SequentialJob" && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out, nil
}

// waitForEvent waits for an event with the reason and type about the
// SequentialJob, and returns it.
func waitForEvent(t *testing.T, ns, name, eventType, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	waitFor(t, fmt.Sprintf("a %s event %s about %s", eventType, reason, name), func(ctx context.Context) (bool, error) {
		events, err := sjEvents(ctx, ns, name)
		if err != nil {
			return false, err
		}
		for _, e := range events {
			if e.Reason == reason && e.Type == eventType {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

// podsOf lists the pods of one step Job.
func podsOf(ctx context.Context, ns, job string) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	err := k8s.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{batchv1.JobNameLabel: job})
	return list.Items, err
}

// waitForRunningPod waits until a pod of the Job runs on the kwok node.
func waitForRunningPod(t *testing.T, ns, job string) {
	t.Helper()
	waitFor(t, "a running pod of Job "+job, func(ctx context.Context) (bool, error) {
		pods, err := podsOf(ctx, ns, job)
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				return true, nil
			}
		}
		return false, nil
	})
}

// jobRecorder watches the Jobs of a namespace from the moment it starts and
// checks, at every change in the order the apiserver made them, that
//   - no two step Jobs are unfinished at the same time, and
//   - a step's Job is created only after the previous step's Job is Complete.
//
// The watch delivers changes in resourceVersion order, so these checks see
// every intermediate state; they do not depend on timing.
type jobRecorder struct {
	mu         sync.Mutex
	jobs       map[string]*batchv1.Job
	created    []createdJob
	deleted    []string
	violations []string
	// overlaps are the violations of one-at-a-time alone.
	overlaps []string
	stop     context.CancelFunc
	done     chan struct{}
}

type createdJob struct {
	name string
	uid  types.UID
	// step is the Job's step-name label: which step it ran.
	step string
	// owner is its SequentialJob label.
	owner string
}

func recordJobs(t *testing.T, ns string) *jobRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cs := cluster.Clientset
	list, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	r := &jobRecorder{jobs: map[string]*batchv1.Job{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		r.observe(watch.Added, &list.Items[i])
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &toolscache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return cs.BatchV1().Jobs(ns).Watch(ctx, opts)
		},
	})
	require.NoError(t, err)
	go func() {
		defer close(r.done)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if job, ok := ev.Object.(*batchv1.Job); ok {
					r.observe(ev.Type, job)
				}
			}
		}
	}()
	t.Cleanup(r.close)
	return r
}

func (r *jobRecorder) close() {
	r.stop()
	<-r.done
}

func (r *jobRecorder) observe(typ watch.EventType, job *batchv1.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch typ {
	case watch.Deleted:
		delete(r.jobs, job.Name)
		r.deleted = append(r.deleted, job.Name)
		return
	case watch.Added, watch.Modified:
	default:
		return
	}
	prev, known := r.jobs[job.Name]
	r.jobs[job.Name] = job.DeepCopy()
	if known && prev.UID == job.UID {
		r.checkActive(job)
		return
	}
	r.created = append(r.created, createdJob{name: job.Name, uid: job.UID,
		step: job.Labels[v1alpha1.LabelStepName], owner: job.Labels[v1alpha1.LabelSequentialJob]})
	// A new step Job: every other Job of its SequentialJob must have ended.
	for _, other := range r.jobs {
		if other.UID != job.UID && other.Labels[v1alpha1.LabelSequentialJob] == job.Labels[v1alpha1.LabelSequentialJob] && !jobFinished(other) {
			r.overlaps = append(r.overlaps, fmt.Sprintf("Job %s was created while Job %s had not ended", job.Name, other.Name))
		}
	}
	// And every earlier step's Job must be Complete.
	index, err := strconv.Atoi(job.Labels[v1alpha1.LabelStepIndex])
	if err != nil {
		r.violations = append(r.violations, fmt.Sprintf("Job %s has no valid %s label", job.Name, v1alpha1.LabelStepIndex))
		return
	}
	sjName := job.Labels[v1alpha1.LabelSequentialJob]
	for i := 0; i < index; i++ {
		earlier := r.jobs[render.JobName(sjName, i)]
		if earlier == nil || !jobCondition(earlier, batchv1.JobComplete) {
			r.violations = append(r.violations, fmt.Sprintf("Job %s was created while the Job of step %d was not Complete", job.Name, i))
		}
	}
	r.checkActive(job)
}

// checkActive records a violation when more than one step Job of the same
// SequentialJob is unfinished.
func (r *jobRecorder) checkActive(changed *batchv1.Job) {
	sjName := changed.Labels[v1alpha1.LabelSequentialJob]
	var active []string
	for _, j := range r.jobs {
		if j.Labels[v1alpha1.LabelSequentialJob] == sjName && !jobFinished(j) {
			active = append(active, j.Name)
		}
	}
	if len(active) > 1 {
		sort.Strings(active)
		msg := fmt.Sprintf("Jobs %s were active at the same time", strings.Join(active, ", "))
		r.violations = append(r.violations, msg)
		r.overlaps = append(r.overlaps, msg)
	}
}

// requireOneAtATime fails the test when two Jobs of one SequentialJob were
// ever unfinished at once, or one was created before the other ended. It is
// requireSequential for runs whose steps may fail and go on (onFailure:
// Continue, finally steps, retries).
func (r *jobRecorder) requireOneAtATime(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.overlaps, "the step Jobs did not run one at a time")
}

// requireSequential fails the test on any violation the recorder saw.
func (r *jobRecorder) requireSequential(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.violations, "the step Jobs did not run one after another")
}

// createdNames lists the Jobs created, in order, one entry per creation.
// stepsRun are the steps whose Job sjName created, in creation order, from
// the Jobs' step-name labels: a step that ran twice appears twice.
func (r *jobRecorder) stepsRun(sjName string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.created {
		if c.owner == sjName {
			out = append(out, c.step)
		}
	}
	return out
}

// all is every Job the recorder holds now.
func (r *jobRecorder) all() []batchv1.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []batchv1.Job
	for _, j := range r.jobs {
		out = append(out, *j.DeepCopy())
	}
	return out
}

func (r *jobRecorder) createdNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.created))
	for _, c := range r.created {
		names = append(names, c.name)
	}
	return names
}

func (r *jobRecorder) job(name string) *batchv1.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[name]; j != nil {
		return j.DeepCopy()
	}
	return nil
}

func jobCondition(job *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobFinished(job *batchv1.Job) bool {
	return jobCondition(job, batchv1.JobComplete) || jobCondition(job, batchv1.JobFailed)
}

// kubectl runs bin/kubectl against the cluster and fails the test when it
// fails.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cluster.Kubectl(context.Background(), args...)
	require.NoError(t, err, "kubectl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
