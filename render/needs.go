package render

import (
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Needs is what render's decision still needs from the cluster: what
// admission and the CRD cannot know, and the pods of the steps that end.
// The reconciler fetches it into Observed.Answers and renders once more;
// each render decides once, on what it observed.
type Needs struct {
	// DryRun are the Jobs of the steps that have not started, exactly as
	// they would be created, for a server-side dry-run. It is due before
	// the first step starts and after every spec change while the run is
	// active, so an invalid step fails the run before anything runs.
	DryRun []*batchv1ac.JobApplyConfiguration `json:"dryRun,omitempty"`
	// DryRunClaims are the run's volume claims, due with DryRun: a claim
	// the apiserver refuses fails the steps that mount it (InvalidStep).
	DryRunClaims []*corev1ac.PersistentVolumeClaimApplyConfiguration `json:"dryRunClaims,omitempty"`
	// ServiceAccount is the ServiceAccount the pods of the step that starts
	// now run as: a missing one holds the step (ResourcesUnavailable).
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// PodsOf are the Jobs whose step ends now: their pods tell the step's
	// result and what ended it.
	PodsOf []string `json:"podsOf,omitempty"`
}

// Empty is true when render needs nothing more.
func (n Needs) Empty() bool {
	return len(n.DryRun) == 0 && len(n.DryRunClaims) == 0 && n.ServiceAccount == "" && len(n.PodsOf) == 0
}

// Answers are the cluster's answers to a render's Needs.
type Answers struct {
	// Problem is what keeps the next step's Job from being created for now
	// (a missing ServiceAccount, a quota, an apiserver error). It clears up
	// by itself or once fixed, so the step waits and the reconciler retries.
	Problem *Problem `json:"problem,omitempty"`
	// Pods are the pods of the Jobs of Needs.PodsOf: their container's
	// termination message is the step's result, and a failed pod tells why
	// (exit code, OOMKilled, Evicted).
	Pods []corev1.Pod `json:"pods,omitempty"`
	// Rejected are the steps, by name, that the apiserver refused as
	// invalid: in the dry-run (InvalidStep) or when their Job was created
	// (JobRejected). Retrying cannot help, so each fails the run.
	Rejected map[string]Rejection `json:"rejected,omitempty"`
	// RejectedClaims are the volume claim templates, by name, whose claim
	// the apiserver refused as invalid in the dry-run (InvalidStep).
	RejectedClaims map[string]Rejection `json:"rejectedClaims,omitempty"`
}

func (a *Answers) rejectedClaims() map[string]Rejection {
	if a == nil {
		return nil
	}
	return a.RejectedClaims
}

func (a *Answers) problem() *Problem {
	if a == nil {
		return nil
	}
	return a.Problem
}

func (a *Answers) rejected() map[string]Rejection {
	if a == nil {
		return nil
	}
	return a.Rejected
}

func (a *Answers) pods() []corev1.Pod {
	if a == nil {
		return nil
	}
	return a.Pods
}

// needsOf is what the decision d, made without answers, needs.
func needsOf(sj *v1alpha1.SequentialJob, jobs observedJobs, d decision) Needs {
	var needs Needs
	needs.PodsOf = endingJobs(sj.Status, jobs)
	if d.next != nil {
		needs.ServiceAccount = sj.Spec.Template.Spec.ServiceAccountName
	}
	if d.state.ended() || sj.Generation == sj.Status.ObservedGeneration {
		return needs
	}
	// An existing claim answers AlreadyExists, which passes: a claim is
	// checked before it is first created.
	needs.DryRunClaims = desiredClaims(sj)
	for _, finally := range []bool{false, true} {
		for index, step := range d.list(finally) {
			ref := slot{finally: finally, index: index, attempt: attemptOf(step)}
			starting := d.next != nil && d.next.ref == ref
			if step.Phase != v1alpha1.PhasePending && !starting {
				continue
			}
			c, _ := containerNamed(specList(sj, finally), step.Name)
			needs.DryRun = append(needs.DryRun, desiredJob(sj, nextStep{ref: ref, container: c}, resultsBefore(d.steps, d.finally, ref)))
		}
	}
	return needs
}

// endingJobs are the owned Jobs that reached Complete or Failed while status
// does not record their step's end yet.
func endingJobs(status v1alpha1.SequentialJobStatus, jobs observedJobs) []string {
	recorded := map[string]bool{}
	for _, entries := range [][]v1alpha1.StepStatus{status.Steps, status.Finally} {
		for _, step := range entries {
			if step.Phase.Terminal() {
				recorded[step.JobName] = true
			}
		}
	}
	var out []string
	for _, job := range jobs.all {
		if !recorded[job.Name] && job.DeletionTimestamp == nil && podsHere(job) && resultOf(job, metav1.Time{}).phase.Terminal() {
			out = append(out, job.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Answer fetches what a render needs from the cluster.
type Answer func(Needs) (*Answers, error)

// RenderAnswered is how a reconcile renders: once on what it observed, and
// when that decision needs something from the cluster, once more with the
// answers. It returns the observation the result was rendered from.
func RenderAnswered(obs Observed, now time.Time, answer Answer) (Desired, Observed, error) {
	desired := Render(obs, now)
	if desired.Needs.Empty() {
		return desired, obs, nil
	}
	answers, err := answer(desired.Needs)
	if err != nil {
		return desired, obs, err
	}
	obs.Answers = answers
	return Render(obs, now), obs, nil
}

// PodsOf are the pods of the named Jobs among pods: what a reconcile reads
// for Needs.PodsOf.
func PodsOf(pods []corev1.Pod, jobs []string) []corev1.Pod {
	var out []corev1.Pod
	for _, pod := range pods {
		if slices.Contains(jobs, pod.Labels[batchv1.JobNameLabel]) {
			out = append(out, pod)
		}
	}
	return out
}
