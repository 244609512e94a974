package reconciler

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// listJobs lists the Jobs labelled for sj. From the cache it costs nothing;
// render tells the ones sj controls from the ones that only carry its label.
func listJobs(ctx context.Context, reader client.Reader, sj *v1alpha1.SequentialJob) ([]batchv1.Job, error) {
	list := &batchv1.JobList{}
	if err := reader.List(ctx, list, client.InNamespace(sj.Namespace), client.MatchingLabels{render.LabelSequentialJob: sj.Name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// liveRead re-reads sj and its Jobs from the apiserver, plus each Job about
// to be created by name: a Job with that name that someone else made carries
// none of our labels, and applying over it would take it over.
func (r *Reconciler) liveRead(ctx context.Context, cached *v1alpha1.SequentialJob, desired render.Desired) (*v1alpha1.SequentialJob, []batchv1.Job, error) {
	sj := &v1alpha1.SequentialJob{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cached), sj); err != nil {
		return cached, nil, fmt.Errorf("reading SequentialJob: %w", err)
	}
	jobs, err := listJobs(ctx, r.APIReader, sj)
	if err != nil {
		return cached, nil, fmt.Errorf("listing Jobs: %w", err)
	}
	for _, want := range desired.Jobs {
		if listed(jobs, *want.Name) {
			continue
		}
		job := batchv1.Job{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: sj.Namespace, Name: *want.Name}, &job)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return cached, nil, fmt.Errorf("reading Job %s: %w", *want.Name, err)
		default:
			jobs = append(jobs, job)
		}
	}
	return sj, jobs, nil
}

func listed(jobs []batchv1.Job, name string) bool {
	for i := range jobs {
		if jobs[i].Name == name {
			return true
		}
	}
	return false
}
