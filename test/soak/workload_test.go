package soak

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/localcluster"
	"example.com/sequentialjob/test/fixtures"
)

// kind is what the soak does to a run besides letting it run; run i is of
// kind i%kinds.
type kind int

const (
	// plain runs three steps and has no TTL: the soak deletes it once it
	// has ended (a delete of a finished run).
	plain kind = iota
	// expiring runs three steps with ttlSecondsAfterFinished: the
	// controller deletes it.
	expiring
	// edited: while its first (longer) step runs, the soak edits the
	// pending steps: a new command for s2, and a step s1b inserted after s1.
	edited
	// suspended is suspended once its first step succeeded (its longer
	// second step then runs, and is suspended with it) and resumed a
	// moment after the controller reports it Suspended.
	suspended
	// retried fails at s1 (exit code 1, backoffLimit 0); the soak retries
	// it with a new spec.retryToken in the same edit that lifts the
	// failure, and deletes it once the retry has succeeded (no TTL: the
	// failed run must wait for its retry).
	retried
	// deleted is deleted while its longer second step runs: the controller
	// must stop its Jobs and leave nothing behind.
	deleted
	kinds
)

func (k kind) String() string {
	return [...]string{"plain", "expiring", "edited", "suspended", "retried", "deleted"}[k]
}

const (
	retryToken = "retry-1"
	// ttl is the expiring runs' ttlSecondsAfterFinished.
	ttl = 5
	// resumeAfter is how long a run stays Suspended.
	resumeAfter = 2 * time.Second
)

// wantSteps are the steps a run of kind k ends with.
func (k kind) wantSteps(editSent bool) []string {
	if k == edited && editSent {
		return []string{"s0", "s1", "s1b", "s2"}
	}
	return []string{"s0", "s1", "s2"}
}

// run is one SequentialJob of the soak and what the soak did to it.
type run struct {
	ns, name string
	kind     kind
	uid      types.UID
	created  time.Time

	// stage is how far the soak got with it: 1 once the edit, suspend,
	// retry or delete was sent, 2 once the resume was.
	stage   int
	stageAt time.Time
	// deleteSent is set once the soak deleted it (kinds plain, retried
	// and deleted).
	deleteSent bool
}

func (r *run) key() string { return r.ns + "/" + r.name }

// spec is the SequentialJob of a run of kind k.
func spec(ns, name string, k kind, pod time.Duration) *v1alpha1.SequentialJob {
	long := (4 * pod).String()
	b := fixtures.MakeSequentialJob(ns, name).Steps("s0", "s1", "s2").Duration(pod.String())
	switch k {
	case plain:
	case expiring:
	case edited:
		b.StepDuration("s0", long)
	case suspended:
		b.StepDuration("s1", long)
	case retried:
		b.ExitCode("s1", 1).BackoffLimit(0)
	case deleted:
		b.StepDuration("s1", long)
	}
	sj := b.Obj()
	if k != plain && k != retried {
		sj.Spec.TTLSecondsAfterFinished = ptr.To[int32](ttl)
	}
	return sj
}

// ended is true once the controller has reported the run's latest
// generation finished.
func ended(sj *v1alpha1.SequentialJob) bool {
	return sj.Status.Phase.Terminal() && sj.Status.ObservedGeneration == sj.Generation
}

func stepPhase(sj *v1alpha1.SequentialJob, name string) v1alpha1.Phase {
	i := slices.IndexFunc(sj.Status.Steps, func(s v1alpha1.StepStatus) bool { return s.Name == name })
	if i < 0 {
		return ""
	}
	return sj.Status.Steps[i].Phase
}

// actor is the user of the soak's runs: it edits, suspends, resumes,
// retries and deletes them, from what the soak's cache shows.
type actor struct {
	c client.Client

	mu   sync.Mutex
	errs []string
}

func (a *actor) fail(r *run, format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.errs) < 50 {
		a.errs = append(a.errs, r.key()+": "+fmt.Sprintf(format, args...))
	}
}

// act does what run r needs now, if anything; sj is the latest the cache
// shows of it.
func (a *actor) act(ctx context.Context, r *run, sj *v1alpha1.SequentialJob, now time.Time) {
	if r.deleteSent || !sj.DeletionTimestamp.IsZero() {
		return
	}
	switch {
	case r.kind == edited && r.stage == 0 && stepPhase(sj, "s0") == v1alpha1.PhaseRunning:
		if a.edit(ctx, r) {
			r.stage, r.stageAt = 1, now
		}
	case r.kind == suspended && r.stage == 0 && stepPhase(sj, "s0") == v1alpha1.PhaseSucceeded && !ended(sj):
		if a.patch(ctx, r, sj, `{"spec":{"suspend":true}}`) {
			r.stage, r.stageAt = 1, now
		}
	case r.kind == suspended && r.stage == 1 && sj.Status.Phase == v1alpha1.PhaseSuspended && now.Sub(r.stageAt) >= resumeAfter:
		if a.patch(ctx, r, sj, `{"spec":{"suspend":false}}`) {
			r.stage, r.stageAt = 2, now
		}
	case r.kind == retried && r.stage == 0 && ended(sj) && sj.Status.Phase == v1alpha1.PhaseFailed:
		patch := fmt.Sprintf(`{"spec":{"retryToken":%q,"template":{"metadata":{"annotations":{%q:null}}}}}`,
			retryToken, localcluster.AnnotationExitCode+".s1")
		if a.patch(ctx, r, sj, patch) {
			r.stage, r.stageAt = 1, now
		}
	case r.kind == deleted && stepPhase(sj, "s1") == v1alpha1.PhaseRunning,
		r.kind == deleted && ended(sj):
		a.delete(ctx, r, sj)
	case r.kind == plain && ended(sj),
		r.kind == retried && r.stage == 1 && ended(sj) && sj.Status.RetryToken == retryToken:
		a.delete(ctx, r, sj)
	}
}

func (a *actor) patch(ctx context.Context, r *run, sj *v1alpha1.SequentialJob, patch string) bool {
	err := a.c.Patch(ctx, sj.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(patch)))
	if err != nil && !apierrors.IsNotFound(err) {
		a.fail(r, "patch %s: %v", patch, err)
	}
	return err == nil
}

// edit changes the pending steps: s2's command, and s1b inserted after s1.
// It reads the run live and writes it with its resourceVersion; a conflict
// is tried again on the next round.
func (a *actor) edit(ctx context.Context, r *run) bool {
	sj := &v1alpha1.SequentialJob{}
	if err := a.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: r.name}, sj); err != nil {
		return false
	}
	if phase := stepPhase(sj, "s1"); phase != "" && phase != v1alpha1.PhasePending {
		// Too late: s1 has started. Not edited, and checked as such.
		r.stage = -1
		return false
	}
	containers := sj.Spec.Containers
	i := slices.IndexFunc(containers, func(c corev1.Container) bool { return c.Name == "s1" })
	j := slices.IndexFunc(containers, func(c corev1.Container) bool { return c.Name == "s2" })
	if i < 0 || j < 0 {
		a.fail(r, "edit: no step s1 or s2 in %v", containers)
		return false
	}
	containers[j].Command = []string{"sh", "-c", "echo s2, edited"}
	inserted := *containers[i].DeepCopy()
	inserted.Name, inserted.Command = "s1b", []string{"sh", "-c", "echo s1b"}
	sj.Spec.Containers = slices.Insert(containers, i+1, inserted)
	err := a.c.Update(ctx, sj)
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		a.fail(r, "edit: %v", err)
	}
	return err == nil
}

func (a *actor) delete(ctx context.Context, r *run, sj *v1alpha1.SequentialJob) {
	err := a.c.Delete(ctx, sj.DeepCopy(), client.Preconditions{UID: &r.uid})
	if err != nil && !apierrors.IsNotFound(err) {
		a.fail(r, "delete: %v", err)
		return
	}
	r.deleteSent = true
}
