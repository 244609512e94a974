package reconciler

import (
	"context"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// answer fetches what render needs: what only the apiserver can tell,
// asked only when the decision depends on it.
//   - the ServiceAccount the next step's pods would run as (live);
//   - a server-side dry-run of every step that has not started, before the
//     first step and after each spec change;
//   - the pods of the Jobs whose step ends now (cached, see podsOf).
func (r *Reconciler) answer(ctx context.Context, obs render.Observed, needs render.Needs) (*render.Answers, error) {
	sj := obs.SequentialJob
	answers := &render.Answers{}
	if needs.ServiceAccount != "" {
		problem, err := r.checkServiceAccount(ctx, sj.Namespace, needs.ServiceAccount)
		if err != nil {
			return nil, err
		}
		answers.Problem = problem
	}
	answers.Rejected = r.dryRun(ctx, needs.DryRun)
	answers.RejectedClaims = r.dryRunClaims(ctx, needs.DryRunClaims)
	for _, name := range needs.PodsOf {
		job := jobNamed(obs.Jobs, name)
		if job == nil {
			continue
		}
		pods, err := r.podsOf(ctx, job)
		if err != nil {
			return nil, err
		}
		answers.Pods = append(answers.Pods, pods...)
	}
	return answers, nil
}

// podsOf are the pods of a Job whose step ends now: the step's result and
// failure detail are in them. They come from the cache, which holds our
// steps' pods stripped (see CacheOptions), so a handoff costs no read of
// the apiserver. The pod and Job watches are separate streams, so the
// cache may show the Job ended before it shows the pod that ended it: the
// cache is trusted only when it accounts for every finished pod the Job's
// status counts; otherwise the pods are listed live, as the Job controller
// counted them.
func (r *Reconciler) podsOf(ctx context.Context, job *batchv1.Job) ([]corev1.Pod, error) {
	cached := &corev1.PodList{}
	if err := r.Client.List(ctx, cached, client.InNamespace(job.Namespace), client.MatchingFields{podsByJob: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the cached pods of Job %s: %w", job.Name, err)
	}
	if accountsFor(cached.Items, job) {
		return cached.Items, nil
	}
	live := &corev1.PodList{}
	if err := r.APIReader.List(ctx, live, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of Job %s: %w", job.Name, err)
	}
	return live.Items, nil
}

// accountsFor is true when pods hold as many succeeded and failed pods as
// job's status counts: a terminal pod's status is final, so these pods
// tell the step's result and failure as the apiserver would.
func accountsFor(pods []corev1.Pod, job *batchv1.Job) bool {
	var succeeded, failed int32
	for i := range pods {
		switch pods[i].Status.Phase {
		case corev1.PodSucceeded:
			succeeded++
		case corev1.PodFailed:
			failed++
		}
	}
	return succeeded >= job.Status.Succeeded && failed >= job.Status.Failed
}

// listJobs lists the Jobs labelled for sj, live. render tells the ones sj
// controls from the ones that only carry its label.
func listJobs(ctx context.Context, reader client.Reader, sj *v1alpha1.SequentialJob) ([]batchv1.Job, error) {
	list := &batchv1.JobList{}
	if err := reader.List(ctx, list, client.InNamespace(sj.Namespace), client.MatchingLabels{v1alpha1.LabelSequentialJob: sj.Name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// listCachedJobs is listJobs from the cache, through its index of Jobs by
// SequentialJob: a label selector would test every Job of the namespace on
// every reconcile.
func listCachedJobs(ctx context.Context, cache client.Reader, sj *v1alpha1.SequentialJob) ([]batchv1.Job, error) {
	list := &batchv1.JobList{}
	if err := cache.List(ctx, list, client.InNamespace(sj.Namespace), client.MatchingFields{jobsBySequentialJob: sj.Name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// confirmMissingJobs reads live the Job of every running step the cache
// does not hold: render fails such a step as JobDeleted, which must not
// happen because of a cache that lags.
func (r *Reconciler) confirmMissingJobs(ctx context.Context, obs *render.Observed) error {
	status := obs.SequentialJob.Status
	for _, entries := range [][]v1alpha1.StepStatus{status.Steps, status.Finally} {
		for _, step := range entries {
			inProgress := step.Phase == v1alpha1.PhaseRunning || step.Phase == v1alpha1.PhaseQueued
			if !inProgress || listed(obs.Jobs, step.JobName) {
				continue
			}
			if err := r.lookUpJobName(ctx, obs, step.JobName); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookUpJobName reads the Job called name live, and adds it when it exists.
func (r *Reconciler) lookUpJobName(ctx context.Context, obs *render.Observed, name string) error {
	if listed(obs.Jobs, name) {
		return nil
	}
	job := batchv1.Job{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: obs.SequentialJob.Namespace, Name: name}, &job)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading Job %s: %w", name, err)
	}
	obs.Jobs = append(obs.Jobs, job)
	return nil
}

func listed(jobs []batchv1.Job, name string) bool { return jobNamed(jobs, name) != nil }

// jobNamed is the Job called name among jobs, or nil.
func jobNamed(jobs []batchv1.Job, name string) *batchv1.Job {
	if i := slices.IndexFunc(jobs, func(j batchv1.Job) bool { return j.Name == name }); i >= 0 {
		return &jobs[i]
	}
	return nil
}

// checkServiceAccount finds what admission cannot know before a step's Job
// is created: a ServiceAccount the template names but that does not exist.
// The Job would be created, but its pods never would, and the step would
// hang. The read is live: ServiceAccounts are not worth caching for a check
// made once per step.
func (r *Reconciler) checkServiceAccount(ctx context.Context, namespace, name string) (*render.Problem, error) {
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &corev1.ServiceAccount{})
	switch {
	case apierrors.IsNotFound(err):
		return &render.Problem{
			ConditionType: v1alpha1.ConditionResourcesUnavailable,
			Reason:        v1alpha1.ReasonServiceAccountNotFound,
			Message:       fmt.Sprintf("ServiceAccount %q named in spec.template.spec.serviceAccountName does not exist in namespace %q", name, namespace),
		}, nil
	case err != nil:
		return nil, fmt.Errorf("reading ServiceAccount %s: %w", name, err)
	}
	return nil, nil
}

// dryRun submits each Job, exactly as it would be created, to the apiserver
// with a server-side dry-run create: Job and pod validation and the
// admission policies on Jobs run, and nothing is stored. A create, not an
// apply: a dry-run apply over an existing Job of that name would validate
// an update instead. Only a rejection as invalid fails a step; anything
// else (quota, a timeout, a name taken) is for the real create to meet,
// where it is retried or reported.
func (r *Reconciler) dryRun(ctx context.Context, jobs []*batchv1ac.JobApplyConfiguration) map[string]render.Rejection {
	var rejected map[string]render.Rejection
	for _, want := range jobs {
		job := render.JobOf(want)
		err := r.Client.Create(ctx, job, client.DryRunAll, client.FieldOwner(FieldManager))
		if !rejectedAsInvalid(err) {
			if err != nil && !apierrors.IsAlreadyExists(err) {
				log.FromContext(ctx).Info("Dry-run of a step's Job failed; its creation will tell", "job", *want.Name, "error", err.Error())
			}
			continue
		}
		if rejected == nil {
			rejected = map[string]render.Rejection{}
		}
		rejected[want.Labels[v1alpha1.LabelStepName]] = render.Rejection{Reason: v1alpha1.ReasonInvalidStep, Message: apiMessage(err)}
	}
	return rejected
}

// read is the SequentialJob and its Jobs as this reconcile decides on them:
// from the cache, once the cache holds this controller's own writes. While
// it does not, wait is true: the watch event of that write requeues the
// SequentialJob. sj is nil when it no longer exists.
func (r *Reconciler) read(ctx context.Context, req reconcile.Request) (sj *v1alpha1.SequentialJob, jobs []batchv1.Job, wait bool, err error) {
	for attempt := 0; ; attempt++ {
		sj = &v1alpha1.SequentialJob{}
		if err := r.Client.Get(ctx, req.NamespacedName, sj); err != nil {
			return nil, nil, false, client.IgnoreNotFound(err)
		}
		if jobs, err = listCachedJobs(ctx, r.Client, sj); err != nil {
			return nil, nil, false, err
		}
		switch r.expect.check(sj, jobs) {
		case cacheCurrent:
			return sj, jobs, false, nil
		case cacheBehind:
			// check marked this SequentialJob waiting, so the next event
			// wakes it (see sequentialJobChanged); one that arrived
			// between the read and the check is in the cache now.
			if attempt == 0 {
				continue
			}
			return sj, nil, true, nil
		case cacheStale:
			log.FromContext(ctx).Info("The cache has not shown this controller's last writes; reading live")
			if err := r.APIReader.Get(ctx, req.NamespacedName, sj); err != nil {
				return nil, nil, false, client.IgnoreNotFound(err)
			}
			r.expect.readLive(sj)
			jobs, err = listJobs(ctx, r.APIReader, sj)
			return sj, jobs, false, err
		}
	}
}

// waitRequeue is the safety net of a reconcile that waits for the cache:
// the watch event normally comes first; if it never does, the SequentialJob
// comes back once the expectations have expired and reads live.
func waitRequeue(wait bool) time.Duration {
	if wait {
		return expectationTimeout + time.Second
	}
	return 0
}
