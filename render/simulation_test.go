package render_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// byteSource turns fuzzer bytes into decisions. Exhausted, it answers 0,
// so every input, however short, is a complete scenario.
type byteSource struct{ data []byte }

func (b *byteSource) next() byte {
	if len(b.data) == 0 {
		return 0
	}
	v := b.data[0]
	b.data = b.data[1:]
	return v
}

// intn is a number in [0, n).
func (b *byteSource) intn(n int) int { return int(b.next()) % n }

func (b *byteSource) done() bool { return len(b.data) == 0 }

// stepPool is the step names a scenario picks from. It is small on purpose:
// edits then remove and re-add the same names, the case that could run a
// step twice.
var stepPool = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}

// sjNames covers the short name of the seed's examples, the longest name
// the CRD admits, and names stored before that rule existed, whose Job
// names render shortens with a hash.
var sjNames = []string{"run", strings.Repeat("n", v1alpha1.MaxNameLength), strings.Repeat("x", 61), strings.Repeat("y", 63), strings.Repeat("z", 200)}

// cluster is what a sequence of reconciles acts on: the SequentialJob as
// stored and the Jobs that exist. It plays the apiserver, the Job controller
// and the people who edit and delete things, as the fuzzer's bytes decide.
type cluster struct {
	sj   *v1alpha1.SequentialJob
	jobs map[string]*batchv1.Job // by name
	now  time.Time

	// What every render so far created: Job name -> step name, and the
	// steps started in this run. The properties are checked against them.
	created map[string]string
	started map[string]string // finally/step/attempt -> Job name
	retries int
	// invalid is a step of the spec the apiserver refuses as invalid.
	invalid string
	// closedSteps are the steps of the spec when the first finally step
	// started: the steps the run had to run.
	closedSteps []corev1.Container
}

func newCluster(src *byteSource) *cluster {
	sj := &v1alpha1.SequentialJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SequentialJob"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: sjNames[src.intn(len(sjNames))], UID: "sj-uid", Generation: 1},
	}
	if src.intn(4) == 3 {
		sj.Spec.Template.Spec.ServiceAccountName = "runner"
		sj.Spec.Template.Labels = map[string]string{"team": "data"}
	}
	if src.intn(4) == 3 {
		sj.Spec.BackoffLimit = ptr.To(int32(src.intn(7)))
	}
	// Most scenarios have a few steps; some have the most the CRD allows,
	// which edits can push past the run's step limit.
	n := 1 + src.intn(6)
	if src.intn(8) == 7 {
		n = v1alpha1.MaxSteps
	}
	for i := range n {
		sj.Spec.Containers = append(sj.Spec.Containers, container(stepName(i), sj.Generation))
	}
	// The step controls of issue 10: finally steps, a step allowed to
	// fail, a run deadline.
	if src.intn(4) == 3 {
		for i := range 1 + src.intn(2) {
			sj.Spec.Finally = append(sj.Spec.Finally, container("fin-"+strconv.Itoa(i), sj.Generation))
		}
	}
	if src.intn(4) == 3 {
		sj.Spec.StepSettings = []v1alpha1.StepSettings{{Name: sj.Spec.Containers[src.intn(n)].Name, OnFailure: v1alpha1.OnFailureContinue}}
	}
	if src.intn(6) == 5 {
		sj.Spec.RunDeadlineSeconds = ptr.To(int64(60 * (1 + src.intn(10))))
	}
	c := &cluster{sj: sj, jobs: map[string]*batchv1.Job{}, created: map[string]string{}, started: map[string]string{},
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if src.intn(8) == 7 {
		c.invalid = sj.Spec.Containers[src.intn(n)].Name
	}
	c.maybeWhen(src)
	return c
}

// whenPool are the when expressions the fuzzer gives steps: true and
// false, conditions on the run and on earlier steps (invalid where step a
// runs later, or not at all), on labels the run has or not, ones that do
// not compile or are no bool, and one whose evaluation fails.
var whenPool = []string{
	"true", "false", "run.attempt > 1", "!run.failed", "run.failed",
	"steps.exists(s, steps[s].phase == 'Skipped')", "steps.all(s, steps[s].phase == 'Succeeded')",
	"steps.a.phase == 'Succeeded'", "steps['a'].result == ''", "run.labels['flip'] == 'on'",
	"int(steps.a.result) > 0", "steps.a.phase ==", "1",
}

// maybeWhen, for some bytes (never for zeros), gives a step or a finally
// step a when of whenPool, or takes one away; and flips a label that when
// expressions read.
func (c *cluster) maybeWhen(src *byteSource) {
	if src.intn(4) != 3 {
		return
	}
	names := []string{}
	for _, list := range [][]corev1.Container{c.sj.Spec.Containers, c.sj.Spec.Finally} {
		for _, ct := range list {
			names = append(names, ct.Name)
		}
	}
	name, expr := names[src.intn(len(names))], whenPool[src.intn(len(whenPool))]
	if src.intn(4) == 3 {
		expr = "" // take it away
	}
	if src.intn(2) == 1 {
		c.sj.Labels = map[string]string{"flip": "on"}
	} else {
		c.sj.Labels = nil
	}
	settings := slices.Clone(c.sj.Spec.StepSettings)
	i := slices.IndexFunc(settings, func(s v1alpha1.StepSettings) bool { return s.Name == name })
	if i < 0 {
		settings, i = append(settings, v1alpha1.StepSettings{Name: name}), len(settings)
	}
	settings[i].When = expr
	c.sj.Spec.StepSettings = settings
}

// stepName is the pool's name i, and beyond the pool a generated one, so a
// 64-step spec has unique names as the CRD requires.
func stepName(i int) string {
	if i < len(stepPool) {
		return stepPool[i]
	}
	return "s" + strconv.Itoa(i)
}

func container(name string, generation int64) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Args: []string{fmt.Sprintf("echo %s v%d", name, generation)}}
}

// observe is what one reconcile sees: the stored SequentialJob and the
// Jobs that exist, in a deterministic order, rendered as the reconciler
// renders: the cluster answers what render needs, and a create the
// cluster refuses is rendered again with its problem. It returns the
// observation of the last render.
func (c *cluster) observe(src *byteSource) render.Observed {
	obs := render.Observed{SequentialJob: c.sj.DeepCopy()}
	names := make([]string, 0, len(c.jobs))
	for name := range c.jobs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		obs.Jobs = append(obs.Jobs, *c.jobs[name].DeepCopy())
	}
	var problem *render.Problem
	if src.intn(16) == 15 { // zero, as exhausted bytes read, is a plain observation
		// Something only the cluster knows holds the next step back.
		problem = &render.Problem{ConditionType: v1alpha1.ConditionResourcesUnavailable,
			Reason: v1alpha1.ReasonServiceAccountNotFound, Message: `ServiceAccount "runner" not found`}
	}
	// The apiserver refuses the spec's invalid step, if it has one, in
	// every dry-run.
	answer := func(needs render.Needs) (*render.Answers, error) {
		answers := &render.Answers{Problem: problem}
		for _, job := range needs.DryRun {
			if step := job.Labels[v1alpha1.LabelStepName]; c.invalid != "" && step == c.invalid && job.Labels[v1alpha1.LabelFinally] == "" {
				answers.Rejected = map[string]render.Rejection{step: {
					Reason: v1alpha1.ReasonInvalidStep, Message: "spec.template.spec.containers[0].image: Required value"}}
			}
		}
		return answers, nil
	}
	d, obs, _ := render.RenderAnswered(obs, c.now, answer)
	if d.Job != nil && problem != nil && obs.Answers == nil {
		obs.Answers = &render.Answers{Problem: problem} // the create was refused
	}
	return obs
}

// apply does what the reconciler does with a render: create the Jobs, write
// the status (unless the fuzzer makes that write fail, as after a crash
// between the two), and release the finalizers of recorded Jobs.
func (c *cluster) apply(d render.Desired, statusWritten bool) {
	if d.Job != nil {
		job := render.JobOf(d.Job)
		job.UID = types.UID("job-uid-" + job.Name)
		job.CreationTimestamp = metav1.NewTime(c.now)
		c.jobs[job.Name] = job
	}
	for _, control := range d.JobControls {
		job := c.jobs[*control.Name]
		if job == nil || control.Spec == nil {
			continue
		}
		if control.Spec.Suspend != nil {
			job.Spec.Suspend = ptr.To(*control.Spec.Suspend)
		}
		if control.Spec.ActiveDeadlineSeconds != nil {
			job.Spec.ActiveDeadlineSeconds = ptr.To(*control.Spec.ActiveDeadlineSeconds)
		}
	}
	if !statusWritten {
		return
	}
	c.sj.Status = d.Status
	for _, name := range d.Release {
		job := c.jobs[name]
		job.Finalizers = slices.DeleteFunc(job.Finalizers, func(f string) bool { return f == v1alpha1.FinalizerStepResult })
		if job.DeletionTimestamp != nil && len(job.Finalizers) == 0 {
			delete(c.jobs, name)
		}
	}
}

// act is one thing the world does between two reconciles.
func (c *cluster) act(src *byteSource) {
	c.now = c.now.Add(time.Duration(src.intn(120)) * time.Second)
	// The Job controller fails a Job the controller stopped (its
	// activeDeadlineSeconds set to 1 when the run deadline passed).
	for _, job := range c.runningJobs() {
		if ptr.Deref(job.Spec.ActiveDeadlineSeconds, 0) == 1 {
			c.finish(job, batchv1.JobFailed, "DeadlineExceeded", true)
		}
	}
	// Out of bytes, the run is resumed so that it can end.
	if src.done() && ptr.Deref(c.sj.Spec.Suspend, false) {
		c.sj.Spec.Suspend = nil
		c.sj.Generation++
	}
	running := c.progressing()
	switch op := src.intn(12); {
	case op < 3 && len(running) > 0:
		c.finish(running[src.intn(len(running))], batchv1.JobComplete, "CompletionsReached", src.intn(2) == 0)
	case op == 3 && len(running) > 0:
		reasons := []string{"BackoffLimitExceeded", "DeadlineExceeded", "PodFailurePolicy"}
		c.finish(running[src.intn(len(running))], batchv1.JobFailed, reasons[src.intn(len(reasons))], src.intn(2) == 0)
	case op == 4 && len(running) > 0:
		// Interim conditions only: the pods may still be terminating.
		job := running[src.intn(len(running))]
		interim := []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobFailureTarget}[src.intn(2)]
		job.Status.Conditions = append(job.Status.Conditions, jobCondition(interim, "Interim", c.now))
	case op == 5 && len(c.jobs) > 0:
		c.delete(c.anyJob(src), src.intn(4) == 0)
	case op >= 6 && op < 9:
		c.edit(src)
	case op == 9:
		c.sj.Spec.Suspend = ptr.To(!ptr.Deref(c.sj.Spec.Suspend, false))
		c.sj.Generation++
	case op == 10:
		// A new retry token: a retry of a Failed run, ignored otherwise;
		// with retryFrom (a step of the spec, as CEL requires), a retry of
		// a Failed or Succeeded run from that step.
		c.retries++
		c.sj.Spec.RetryToken = "retry-" + strconv.Itoa(c.retries)
		c.sj.Spec.RetryFrom = ""
		if steps := c.sj.Spec.Containers; len(steps) > 0 && src.intn(2) == 0 {
			c.sj.Spec.RetryFrom = steps[src.intn(len(steps))].Name
		}
		c.sj.Generation++
	}
}

// progressing are the running Jobs that can end: not suspended.
func (c *cluster) progressing() []*batchv1.Job {
	return slices.DeleteFunc(c.runningJobs(), func(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) })
}

func (c *cluster) runningJobs() []*batchv1.Job {
	var out []*batchv1.Job
	for _, name := range c.sortedJobNames() {
		if job := c.jobs[name]; !jobFinished(job) {
			out = append(out, job)
		}
	}
	return out
}

func (c *cluster) anyJob(src *byteSource) *batchv1.Job {
	names := c.sortedJobNames()
	return c.jobs[names[src.intn(len(names))]]
}

func (c *cluster) sortedJobNames() []string {
	names := make([]string, 0, len(c.jobs))
	for name := range c.jobs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// finish ends a Job as the Job controller does: the interim condition, then
// the terminal one.
func (c *cluster) finish(job *batchv1.Job, terminal batchv1.JobConditionType, reason string, withInterim bool) {
	at := metav1.NewTime(c.now)
	if withInterim {
		interim := batchv1.JobSuccessCriteriaMet
		if terminal == batchv1.JobFailed {
			interim = batchv1.JobFailureTarget
		}
		job.Status.Conditions = append(job.Status.Conditions, jobCondition(interim, reason, at.Time))
	}
	job.Status.Conditions = append(job.Status.Conditions, jobCondition(terminal, reason, at.Time))
	if terminal == batchv1.JobComplete {
		job.Status.CompletionTime = &at
	}
}

// delete deletes a Job as the apiserver does: it waits for its finalizers.
// stripFinalizer is someone removing the step-result finalizer by hand,
// which the run model survives (the step fails as JobDeleted) once status
// records the step as started. Stripped before that, after a lost status
// write, nothing records that the step ran: outside the model's promise.
func (c *cluster) delete(job *batchv1.Job, stripFinalizer bool) {
	if stripFinalizer && c.recorded(job.Name) {
		job.Finalizers = nil
	}
	if len(job.Finalizers) == 0 {
		delete(c.jobs, job.Name)
		return
	}
	at := metav1.NewTime(c.now)
	job.DeletionTimestamp = &at
}

// edit changes the spec as a user may, within what the CRD admits: at
// least one step, at most MaxSteps, unique names.
func (c *cluster) edit(src *byteSource) {
	steps := slices.Clone(c.sj.Spec.Containers)
	c.sj.Generation++
	names := map[string]bool{}
	for _, s := range steps {
		names[s.Name] = true
	}
	// An edit may make a step invalid, or fix the invalid one.
	switch src.intn(8) {
	case 6:
		c.invalid = steps[src.intn(len(steps))].Name
	case 7:
		c.invalid = ""
	}
	switch src.intn(5) {
	case 0: // insert a step, often one that ran before
		name := stepPool[src.intn(len(stepPool))]
		if !names[name] && len(steps) < v1alpha1.MaxSteps {
			at := src.intn(len(steps) + 1)
			steps = slices.Insert(steps, at, container(name, c.sj.Generation))
		}
	case 1: // remove a step
		if len(steps) > 1 {
			at := src.intn(len(steps))
			steps = slices.Delete(steps, at, at+1)
		}
	case 2: // swap two steps
		i, j := src.intn(len(steps)), src.intn(len(steps))
		steps[i], steps[j] = steps[j], steps[i]
	case 3: // rename a step
		name := stepPool[src.intn(len(stepPool))]
		if !names[name] {
			steps[src.intn(len(steps))].Name = name
		}
	case 4: // change a step's command only
		i := src.intn(len(steps))
		steps[i] = container(steps[i].Name, c.sj.Generation)
	}
	c.sj.Spec.Containers = steps
	// The CRD refuses settings for a step that is gone.
	c.sj.Spec.StepSettings = slices.DeleteFunc(slices.Clone(c.sj.Spec.StepSettings), func(ss v1alpha1.StepSettings) bool {
		return !slices.ContainsFunc(append(slices.Clone(steps), c.sj.Spec.Finally...), func(ct corev1.Container) bool { return ct.Name == ss.Name })
	})
	c.maybeWhen(src)
}

// recorded is true when the stored status records jobName's step as started.
func (c *cluster) recorded(jobName string) bool {
	entries := append(slices.Clone(c.sj.Status.Steps), c.sj.Status.Finally...)
	return slices.ContainsFunc(entries, func(s v1alpha1.StepStatus) bool {
		return s.JobName == jobName && s.Phase != v1alpha1.PhasePending
	})
}

func jobCondition(t batchv1.JobConditionType, reason string, at time.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: "set by the simulation",
		LastTransitionTime: metav1.NewTime(at), LastProbeTime: metav1.NewTime(at)}
}

// jobFinished is true once a Job has a terminal condition, or is being
// deleted (its pods go with it).
func jobFinished(job *batchv1.Job) bool {
	for _, cond := range job.Status.Conditions {
		if cond.Status == corev1.ConditionTrue && (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) {
			return true
		}
	}
	return job.DeletionTimestamp != nil
}
