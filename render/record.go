package render

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// runRecord is the run's record as observed, before this reconcile decides
// anything, in two lists kept alike: status.steps for spec.containers and
// status.finally for spec.finally. Each holds first the entries of the steps
// that started, in the order they started, each following its Job; then
// the steps of the current spec that never started, in spec order. A step
// is identified by its name, so an edit mid-run never runs a step twice or
// skips one.
type runRecord struct {
	steps, finally section
	// finished is true when the observed status had already ended the run
	// and no retry re-opens it: a finished run is final, and an edit starts
	// nothing.
	finished bool
	// retried is true when a new spec.retryToken re-opened a Failed run in
	// this reconcile.
	retried bool
	// deferred is true when a retry from spec.retryFrom waits for a Job of
	// the run that has not ended (see retryDeferred): the token is not yet
	// seen, and nothing starts.
	deferred bool
	// from is the entry a retry from spec.retryFrom started from
	// (retryStart), for its event.
	from int
}

// section is one list of the record.
type section struct {
	finally bool
	entries []v1alpha1.StepStatus
	// started is how many entries, from the first, are steps that started.
	started int
}

func newRecord(sj *v1alpha1.SequentialJob, jobs observedJobs, now metav1.Time) runRecord {
	old := sj.Status
	retried := retryRequested(sj)
	deferred := retried && retryDeferred(sj, jobs, now)
	if deferred {
		retried = false
	}
	if old.Phase.Terminal() && !retried {
		return runRecord{steps: frozen(sj, false, old.Steps, jobs, now), finally: frozen(sj, true, old.Finally, jobs, now), finished: true,
			deferred: deferred}
	}
	steps, finally := old.Steps, old.Finally
	from := 0
	switch {
	case retried && sj.Spec.RetryFrom != "":
		// From the record as its Jobs tell it: a step the status still
		// shows running may have ended since (retryDeferred waited for it).
		steps, finally = frozen(sj, false, old.Steps, jobs, now).entries, frozen(sj, true, old.Finally, jobs, now).entries
		from = retryStart(sj, steps)
		steps, finally = reopenFrom(sj, steps, finally, from)
	case retried:
		steps, finally = reopen(sj)
	}
	// A step runs once in a run, in whichever list: one that ran as a step
	// does not run again as a finally step.
	ran := map[string]bool{}
	rec := runRecord{retried: retried, from: from}
	if finallyStarted(finally, jobs) {
		// The steps ended and the finally steps run: the steps are closed,
		// as in a finished run, and an edit adds none.
		rec.steps = closed(sj, steps, jobs, now)
		for _, step := range rec.steps.entries {
			ran[step.Name] = true
		}
	} else {
		rec.steps = newSection(sj, false, steps, jobs, sj.Spec.Containers, ran, now)
	}
	rec.finally = newSection(sj, true, finally, jobs, sj.Spec.Finally, ran, now)
	return rec
}

// frozen is a finished run's list, as recorded; only a step still running
// when the run failed (an invalid edit mid-run) goes on following its Job.
func frozen(sj *v1alpha1.SequentialJob, finally bool, old []v1alpha1.StepStatus, jobs observedJobs, now metav1.Time) section {
	entries := make([]v1alpha1.StepStatus, len(old))
	for i, step := range old {
		entries[i] = step
		if step.Phase == v1alpha1.PhaseRunning || step.Phase == v1alpha1.PhaseQueued {
			entries[i] = followJob(sj, slot{finally: finally, index: i, attempt: attemptOf(step)}, step, jobOf(jobs, finally, i, step), jobs, now)
		}
	}
	return section{finally: finally, entries: entries, started: len(entries)}
}

// closed is the steps' list once the finally steps run: as recorded, as a
// finished run's, with one difference. A status write lost after a step's
// Job was created (a crash, a failed write) leaves the step recorded as
// pending, or not recorded at all, though its Job exists; the Jobs say what
// ran, so such a step follows its Job. Else it would start again while the
// finally steps run, or be forgotten and the run succeed without it.
func closed(sj *v1alpha1.SequentialJob, old []v1alpha1.StepStatus, jobs observedJobs, now metav1.Time) section {
	n := len(old)
	for index := range jobs.list(false) {
		if jobOf(jobs, false, index, oldEntry(old, index)) != nil {
			n = max(n, index+1)
		}
	}
	entries := make([]v1alpha1.StepStatus, n)
	for i := range n {
		step := oldEntry(old, i)
		ref := slot{index: i, attempt: attemptOf(step)}
		if owned := jobOf(jobs, false, i, step); !step.Phase.Terminal() && (owned != nil || step.Phase != v1alpha1.PhasePending) {
			step = followJob(sj, ref, step, owned, jobs, now)
		}
		if step.Name == "" && !step.Phase.Terminal() {
			step = lostStep(sj, ref, now)
		}
		entries[i] = step
	}
	if firstFailedRun(entries, false) == nil {
		entries = passed(sj, entries)
	}
	return section{entries: entries, started: len(entries)}
}

// passed is a closed list whose steps did not stop on a failure, with the
// pending entries a lost status write left behind whose step left spec
// settled: the finally steps started, so their turn passed, and they never
// ran, as a removed pending step. Only those before the first pending step
// still in spec: that one waits for advance, which decides it (its when,
// a rejection) again, and the entries after it keep their turn.
func passed(sj *v1alpha1.SequentialJob, entries []v1alpha1.StepStatus) []v1alpha1.StepStatus {
	for i, step := range entries {
		if step.Phase != v1alpha1.PhasePending {
			continue
		}
		if hasContainer(sj.Spec.Containers, step.Name) {
			break
		}
		entries[i] = removedBeforeAttempt(step)
	}
	return entries
}

// newSection builds one list: the started entries, known from status or
// from their Job alone when the controller crashed (or its status write
// failed) right after creating it, then the pending steps of spec.
func newSection(sj *v1alpha1.SequentialJob, finally bool, old []v1alpha1.StepStatus, jobs observedJobs, spec []corev1.Container,
	ran map[string]bool, now metav1.Time) section {
	started := 0
	for i, step := range old {
		// An entry a retry re-opened for its next attempt keeps its place
		// and its step: the retry re-runs that step, whatever the spec's
		// order now says.
		if step.Phase != v1alpha1.PhasePending || step.Attempt > 1 {
			started = max(started, i+1)
		}
	}
	for index := range jobs.list(finally) {
		if jobOf(jobs, finally, index, oldEntry(old, index)) != nil {
			started = max(started, index+1)
		}
	}

	s := section{finally: finally, entries: make([]v1alpha1.StepStatus, 0, started+len(spec)), started: started}
	for i := range started {
		prev := oldEntry(old, i)
		ref := slot{finally: finally, index: i, attempt: attemptOf(prev)}
		step := followJob(sj, ref, prev, jobOf(jobs, finally, i, prev), jobs, now)
		switch {
		case step.Name == "" && !step.Phase.Terminal():
			// Neither a record nor a Job (a recorded lost entry keeps its record).
			step = lostStep(sj, ref, now)
		case step.Phase == v1alpha1.PhasePending && !hasContainer(spec, step.Name):
			step = removedBeforeAttempt(step)
		}
		ran[step.Name] = true
		s.entries = append(s.entries, step)
	}
	for _, c := range spec {
		if ran[c.Name] {
			continue // never start a step twice
		}
		index := len(s.entries)
		step := v1alpha1.StepStatus{Name: c.Name, Phase: v1alpha1.PhasePending}
		step.JobName = slot{finally: finally, index: index, attempt: 1}.jobName(sj.Name)
		s.entries = append(s.entries, step)
	}
	return s
}

// jobOf is the Job of entry index's attempt: a Job of an earlier attempt,
// not yet released, is not the entry's.
func jobOf(jobs observedJobs, finally bool, index int, entry v1alpha1.StepStatus) *ownedJob {
	owned, ok := jobs.list(finally)[index]
	if !ok || owned.attempt < attemptOf(entry) {
		return nil
	}
	return &owned
}

// followJob is a started step's entry. A finished step keeps its recorded
// result even when its Job is gone (TTL, garbage collection, a person); a
// running step follows its Job; a running step whose Job is gone failed.
// A step that ends here gets its result and failure detail from its pods.
func followJob(sj *v1alpha1.SequentialJob, ref slot, old v1alpha1.StepStatus, owned *ownedJob, jobs observedJobs, now metav1.Time) v1alpha1.StepStatus {
	if old.Phase.Terminal() {
		return old
	}
	if owned == nil {
		if old.Phase == v1alpha1.PhaseQueued {
			old.Phase = v1alpha1.PhaseRunning // a queued step whose Job is gone: as a running one
		}
		if old.Phase == v1alpha1.PhasePending && old.Name != "" {
			// Re-opened by a retry, waiting for its next attempt, whose
			// Job has a name of its own.
			old.JobName = ref.jobName(sj.Name)
			return old
		}
		if old.Phase != v1alpha1.PhaseRunning {
			return v1alpha1.StepStatus{} // neither a record nor a Job: lost
		}
		r := jobDeleted(old.JobName, now)
		step := old
		step.Phase, step.CompletionTime, step.Reason, step.Message = r.phase, r.at, r.reason, r.message
		return withOnFailure(sj, step)
	}
	job := owned.job
	r := resultOf(job, now)
	step := v1alpha1.StepStatus{Name: job.Labels[v1alpha1.LabelStepName], JobName: job.Name, Phase: r.phase,
		StartTime: startTime(old, job), CompletionTime: r.at, Reason: r.reason, Message: r.message,
		Attempt: owned.attempt, PreviousAttempts: old.PreviousAttempts}
	if r.phase == v1alpha1.PhaseRunning {
		if queue := waitingInQueue(job); queue != "" {
			step.Phase, step.Reason = v1alpha1.PhaseQueued, v1alpha1.ReasonQueued
			step.Message = queuedMessage(job.Name, queue)
			return step
		}
		step.Reason, step.Message = old.Reason, old.Message
		if step.Reason == "" || step.Reason == v1alpha1.ReasonQueued {
			step.Reason, step.Message = v1alpha1.ReasonJobCreated, ""
		}
		return step
	}
	if !podsHere(job) {
		step.Message = joinMessage(step.Message, fmt.Sprintf(fmtPodsElsewhere, *job.Spec.ManagedBy))
		return withOnFailure(sj, step)
	}
	report := reportOf(step.Name, r.phase, jobs.pods[job.Name])
	step.Result = report.result
	if report.detail != "" {
		step.Message = joinMessage(step.Message, report.detail)
	}
	return withOnFailure(sj, step)
}

// withOnFailure records, on a step whose Job just failed, that the run goes
// on after it (onFailure: Continue). It is decided once, as the step ends:
// a later edit of the setting does not rewrite history.
func withOnFailure(sj *v1alpha1.SequentialJob, step v1alpha1.StepStatus) v1alpha1.StepStatus {
	if step.Phase == v1alpha1.PhaseFailed && settingsOf(sj, step.Name).OnFailure == v1alpha1.OnFailureContinue {
		step.OnFailure = v1alpha1.OnFailureContinue
	}
	return step
}

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// lostStep is an entry whose record and Job are both gone, which only
// someone removing the step-result finalizer by hand can cause. What ran
// there is unknown, so the run cannot claim it succeeded.
func lostStep(sj *v1alpha1.SequentialJob, ref slot, now metav1.Time) v1alpha1.StepStatus {
	name := ref.jobName(sj.Name)
	return v1alpha1.StepStatus{Name: "", JobName: name, Phase: v1alpha1.PhaseFailed, CompletionTime: &now,
		Reason: v1alpha1.ReasonJobDeleted, Message: fmt.Sprintf(fmtLost, name)}
}

func oldEntry(steps []v1alpha1.StepStatus, i int) v1alpha1.StepStatus {
	if i < len(steps) {
		return steps[i]
	}
	return v1alpha1.StepStatus{}
}

// startTime prefers the recorded start (the moment the controller created the
// Job) so that status does not change when the Job is first observed.
func startTime(old v1alpha1.StepStatus, job interface{ GetCreationTimestamp() metav1.Time }) *metav1.Time {
	if old.StartTime != nil {
		return old.StartTime
	}
	created := job.GetCreationTimestamp()
	return &created
}

// podsHere is false for a Job another controller runs (spec.managedBy),
// such as MultiKueue, which runs it on a worker cluster and mirrors only
// its status back: its pods are not in this cluster.
func podsHere(job *batchv1.Job) bool {
	return job.Spec.ManagedBy == nil || *job.Spec.ManagedBy == "" || *job.Spec.ManagedBy == batchv1.JobControllerName
}
