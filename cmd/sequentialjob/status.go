package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

func init() { subcommands = append(subcommands, newStatusCommand) }

func newStatusCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a SequentialJob's run as a tree: each step's phase, duration, Job, message and result",
		Args:  cobra.ExactArgs(1),
	}
	flags := newClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json: print the SequentialJob instead of the tree")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sj := &v1alpha1.SequentialJob{}
		if _, err := flags.getNamed(cmd.Context(), args[0], sj); err != nil {
			return err
		}
		if output != "" {
			return printSequentialJob(cmd.OutOrStdout(), output, sj)
		}
		return printTree(cmd.OutOrStdout(), sj, time.Now())
	}
	return cmd
}

// printTree prints the run as a user reads it: the run's line, then one
// line per step (and finally step), the way `kubectl tree` shows owners.
func printTree(out io.Writer, sj *v1alpha1.SequentialJob, now time.Time) error {
	st := sj.Status
	phase := string(st.Phase)
	if phase == "" {
		phase = "(not reconciled yet)"
	}
	fmt.Fprintf(out, "SequentialJob %s/%s  %s  %s  attempt %d\n", sj.Namespace, sj.Name, phase, st.Progress.Summary, max(st.Attempt, 1))
	for _, c := range []string{v1alpha1.ConditionFailed, v1alpha1.ConditionSuspended, v1alpha1.ConditionAwaitingApproval, v1alpha1.ConditionResourcesUnavailable, v1alpha1.ConditionStalled} {
		if cond := meta.FindStatusCondition(st.Conditions, c); cond != nil && cond.Status == metav1.ConditionTrue {
			fmt.Fprintf(out, "  %s: %s (%s)\n", c, cond.Message, cond.Reason)
		}
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	writeEntries(w, "", st.Steps, len(st.Finally) == 0, now)
	if len(st.Finally) > 0 {
		fmt.Fprintln(w, "└─ finally")
		writeEntries(w, "   ", st.Finally, true, now)
	}
	return w.Flush()
}

func writeEntries(w io.Writer, indent string, entries []v1alpha1.StepStatus, last bool, now time.Time) {
	for i, s := range entries {
		branch := "├─"
		if last && i == len(entries)-1 {
			branch = "└─"
		}
		job := s.JobName
		if s.Phase == v1alpha1.PhasePending || s.Phase == v1alpha1.PhaseSkipped {
			job = "-" // no Job: not yet, or never (its when was false)
		}
		fmt.Fprintf(w, "%s%s %d %s\t%s\t%s\t%s\t%s\n", indent, branch, i, s.Name, s.Phase, duration(s, now), job, detail(s))
	}
}

// duration is how long the step ran, or has been running.
func duration(s v1alpha1.StepStatus, now time.Time) string {
	if s.StartTime == nil {
		return "-"
	}
	end := now
	if s.CompletionTime != nil {
		end = s.CompletionTime.Time
	}
	return end.Sub(s.StartTime.Time).Round(time.Second).String()
}

// detail is the step's message and result, on one line.
func detail(s v1alpha1.StepStatus) string {
	var parts []string
	if s.Attempt > 1 {
		parts = append(parts, fmt.Sprintf("attempt %d", s.Attempt))
	}
	if s.OnFailure == v1alpha1.OnFailureContinue {
		parts = append(parts, "allowed to fail")
	}
	switch {
	case s.Phase == v1alpha1.PhaseSkipped:
		// Why it was skipped: its reason (ConditionNotMet) and the
		// expression that was false.
		parts = append(parts, "skipped ("+s.Reason+"): "+s.Message)
	case s.Message != "" && s.Phase != v1alpha1.PhaseSucceeded:
		parts = append(parts, s.Message)
	}
	if s.Result != "" {
		parts = append(parts, "result: "+strings.ReplaceAll(s.Result, "\n", `\n`))
	}
	return strings.Join(parts, "; ")
}
