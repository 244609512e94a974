package reconciler

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"example.com/sequentialjob/test/fixtures"
)

// TestStripPodChangesNoRender renders every golden case that has pods twice,
// once with the pods as the apiserver returns them and once as the cache
// holds them (stripPod): what a user sees in status, the Job the next step
// gets (its results) and the events must be the same. A field render starts
// to read that stripPod drops fails here.
func TestStripPodChangesNoRender(t *testing.T) {
	dirs, err := filepath.Glob("../render/testdata/*/pods.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases with pods: %v", err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, podsFile := range dirs {
		dir := filepath.Dir(podsFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := fixtures.LoadRenderCase(dir)
			if err != nil {
				t.Fatal(err)
			}
			full := c.Render(now)
			stripped := c
			stripped.Cluster.Pods = nil
			for i := range c.Cluster.Pods {
				pod, err := stripPod(c.Cluster.Pods[i].DeepCopy())
				if err != nil {
					t.Fatal(err)
				}
				stripped.Cluster.Pods = append(stripped.Cluster.Pods, *pod.(*corev1.Pod))
			}
			got := stripped.Render(now)
			if diff := cmp.Diff(full.Status, got.Status); diff != "" {
				t.Errorf("status differs with cached pods (-apiserver +cache):\n%s", diff)
			}
			if diff := cmp.Diff(full.Job, got.Job); diff != "" {
				t.Errorf("the next step's Job differs with cached pods (-apiserver +cache):\n%s", diff)
			}
			if diff := cmp.Diff(full.Events, got.Events); diff != "" {
				t.Errorf("events differ with cached pods (-apiserver +cache):\n%s", diff)
			}
		})
	}
}

// TestAccountsFor: the cache answers a handoff only when it shows every
// finished pod the Job's status counts.
func TestAccountsFor(t *testing.T) {
	pod := func(phase corev1.PodPhase) corev1.Pod { return corev1.Pod{Status: corev1.PodStatus{Phase: phase}} }
	cases := map[string]struct {
		pods              []corev1.Pod
		succeeded, failed int32
		want              bool
	}{
		"the pod that completed the Job is cached":                     {pods: []corev1.Pod{pod(corev1.PodSucceeded)}, succeeded: 1, want: true},
		"the cache still shows that pod running":                       {pods: []corev1.Pod{pod(corev1.PodRunning)}, succeeded: 1, want: false},
		"the cache has not seen the pod at all":                        {succeeded: 1, want: false},
		"two failures counted, one cached":                             {pods: []corev1.Pod{pod(corev1.PodFailed), pod(corev1.PodRunning)}, failed: 2, want: false},
		"two failures and the success cached":                          {pods: []corev1.Pod{pod(corev1.PodFailed), pod(corev1.PodFailed), pod(corev1.PodSucceeded)}, failed: 2, succeeded: 1, want: true},
		"a failure the Job does not count (pod failure policy Ignore)": {pods: []corev1.Pod{pod(corev1.PodFailed), pod(corev1.PodSucceeded)}, succeeded: 1, want: true},
		"a Job that failed before any pod finished":                    {want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := &batchv1.Job{Status: batchv1.JobStatus{Succeeded: tc.succeeded, Failed: tc.failed}}
			if got := accountsFor(tc.pods, job); got != tc.want {
				t.Errorf("accountsFor = %v, want %v", got, tc.want)
			}
		})
	}
}
