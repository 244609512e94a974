package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

func init() { subcommands = append(subcommands, newLogsCommand) }

func newLogsCommand() *cobra.Command {
	var step string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME [--step STEP] [-f]",
		Short: "Print the logs of a step's pod: the current step's, or --step's (a step or finally step name)",
		Args:  cobra.ExactArgs(1),
	}
	flags := newClusterFlags(cmd)
	cmd.Flags().StringVar(&step, "step", "", "the step whose pod to read (default: the current step)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the logs")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sj := &v1alpha1.SequentialJob{}
		c, err := flags.getNamed(cmd.Context(), args[0], sj)
		if err != nil {
			return err
		}
		entry, err := stepEntry(sj, step)
		if err != nil {
			return err
		}
		pods := &corev1.PodList{}
		if err := c.List(cmd.Context(), pods, client.InNamespace(sj.Namespace), client.MatchingLabels{batchv1.JobNameLabel: entry.JobName}); err != nil {
			return err
		}
		pod, err := stepPod(entry, pods.Items)
		if err != nil {
			return err
		}
		cfg, err := flags.restConfig()
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		stream, err := cs.CoreV1().Pods(sj.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: entry.Name, Follow: follow}).Stream(cmd.Context())
		if err != nil {
			return fmt.Errorf("reading the logs of pod %s (step %s, Job %s): %w", pod.Name, entry.Name, entry.JobName, err)
		}
		defer func() { _ = stream.Close() }() // read side: nothing is lost
		_, err = io.Copy(cmd.OutOrStdout(), stream)
		return err
	}
	return cmd
}

// stepEntry is the status entry of step (a step or a finally step), or of
// the current step when step is empty.
func stepEntry(sj *v1alpha1.SequentialJob, step string) (v1alpha1.StepStatus, error) {
	st := sj.Status
	if step == "" {
		entries := st.Steps
		if st.Progress.InFinally {
			entries = st.Finally
		}
		i := int(st.Progress.CurrentIndex)
		if i < 0 || i >= len(entries) {
			return v1alpha1.StepStatus{}, fmt.Errorf("sequentialjob %s has no current step yet", sj.Name)
		}
		step = entries[i].Name
	}
	var names []string
	for _, entries := range [][]v1alpha1.StepStatus{st.Steps, st.Finally} {
		for _, e := range entries {
			if e.Name == step {
				if e.Phase == v1alpha1.PhasePending {
					return e, fmt.Errorf("step %s has not started: it has no pod", step)
				}
				return e, nil
			}
			names = append(names, e.Name)
		}
	}
	return v1alpha1.StepStatus{}, fmt.Errorf("sequentialjob %s has no step %q; its steps are %s", sj.Name, step, strings.Join(names, ", "))
}

// stepPod is the pod whose logs tell the step's story: of the pods of the
// step's current Job, the one running now, else the latest to end (the
// one that succeeded, or the last that failed).
func stepPod(entry v1alpha1.StepStatus, pods []corev1.Pod) (*corev1.Pod, error) {
	if len(pods) == 0 {
		return nil, fmt.Errorf("the Job %s of step %s has no pod (any more)", entry.JobName, entry.Name)
	}
	sorted := slices.Clone(pods)
	slices.SortStableFunc(sorted, func(a, b corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := len(sorted) - 1; i >= 0; i-- {
		if sorted[i].Status.Phase == corev1.PodRunning {
			return &sorted[i], nil
		}
	}
	for i := len(sorted) - 1; i >= 0; i-- {
		if sorted[i].Status.Phase == corev1.PodSucceeded {
			return &sorted[i], nil
		}
	}
	return &sorted[len(sorted)-1], nil
}
