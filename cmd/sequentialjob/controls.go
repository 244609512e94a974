package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

func init() {
	subcommands = append(subcommands, newSuspendCommand, newResumeCommand, newRetryCommand)
}

func newSuspendCommand() *cobra.Command {
	return controlCommand("suspend NAME", "Suspend a run: no step starts, the running step's Job is suspended (spec.suspend: true)",
		func(_ *v1alpha1.SequentialJob, spec *sjac.SequentialJobSpecApplyConfiguration) (string, error) {
			spec.WithSuspend(true)
			return "suspended", nil
		})
}

func newResumeCommand() *cobra.Command {
	return controlCommand("resume NAME", "Resume a suspended run from the same step (spec.suspend: false)",
		func(_ *v1alpha1.SequentialJob, spec *sjac.SequentialJobSpecApplyConfiguration) (string, error) {
			spec.WithSuspend(false)
			return "resumed", nil
		})
}

func newRetryCommand() *cobra.Command {
	var token, from string
	cmd := controlCommand("retry NAME [--from STEP] [--retry-token TOKEN]",
		"Retry a Failed run from its failed step (a new spec.retryToken), or a Failed or Succeeded run from a chosen step (--from: spec.retryFrom too)",
		func(sj *v1alpha1.SequentialJob, spec *sjac.SequentialJobSpecApplyConfiguration) (string, error) {
			return retryIntent(sj, spec, token, from, time.Now())
		})
	cmd.Flags().StringVar(&token, "retry-token", "", "the new spec.retryToken (default: retry-<UTC time>)")
	cmd.Flags().StringVar(&from, "from", "", "the step of spec.containers to re-run from, with every later step and the finally steps (spec.retryFrom)")
	return cmd
}

// retryIntent fills spec with a retry of sj: a new spec.retryToken, and with
// from, spec.retryFrom in the same apply, so the controller never sees the
// token without the step it goes with. A retry without --from clears a
// retryFrom this manager set before: a plain retry starts at the failed step.
func retryIntent(sj *v1alpha1.SequentialJob, spec *sjac.SequentialJobSpecApplyConfiguration, token, from string, now time.Time) (string, error) {
	if err := retryable(sj, from); err != nil {
		return "", err
	}
	if token == "" {
		token = "retry-" + now.UTC().Format("20060102T150405Z")
	}
	if token == sj.Spec.RetryToken || token == sj.Status.RetryToken {
		return "", fmt.Errorf("retry token %q was already used: a retry needs a new value", token)
	}
	spec.WithRetryToken(token)
	if from == "" {
		return fmt.Sprintf("retried (retryToken %s)", token), nil
	}
	spec.WithRetryFrom(from)
	return fmt.Sprintf("retried from step %s (retryToken %s)", from, token), nil
}

// retryable says why sj cannot be retried as asked, as the controller
// would otherwise ignore it (a run not finished) or the apiserver reject it
// (a step that is not one of spec.containers).
func retryable(sj *v1alpha1.SequentialJob, from string) error {
	if from == "" {
		if sj.Status.Phase != v1alpha1.PhaseFailed {
			return fmt.Errorf("sequentialjob %s is %s, not Failed: only a Failed run is retried (--from STEP re-runs a Succeeded one)", sj.Name, sj.Status.Phase)
		}
		return nil
	}
	if sj.Status.Phase != v1alpha1.PhaseFailed && sj.Status.Phase != v1alpha1.PhaseSucceeded {
		return fmt.Errorf("sequentialjob %s is %s: only a Failed or Succeeded run is retried from a step", sj.Name, sj.Status.Phase)
	}
	for _, c := range sj.Spec.Containers {
		if c.Name == from {
			return nil
		}
	}
	for _, c := range sj.Spec.Finally {
		if c.Name == from {
			return fmt.Errorf("%q is a finally step of sequentialjob %s: the finally steps run again on every retry; --from names a step of spec.containers", from, sj.Name)
		}
	}
	return fmt.Errorf("sequentialjob %s has no step %q in spec.containers", sj.Name, from)
}

// controlCommand is a command that sets run controls in spec with
// server-side apply, as PluginFieldManager: only the fields it names are in
// the intent, so nothing else of the spec changes or changes owner.
func controlCommand(use, short string, set func(*v1alpha1.SequentialJob, *sjac.SequentialJobSpecApplyConfiguration) (string, error)) *cobra.Command {
	var output string
	var force bool
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1)}
	flags := newClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json: print the SequentialJob as applied")
	cmd.Flags().BoolVar(&force, "force-conflicts", false, "take the field over from the manager that owns it (for example a GitOps tool), as kubectl apply --server-side does")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sj := &v1alpha1.SequentialJob{}
		c, err := flags.getNamed(cmd.Context(), args[0], sj)
		if err != nil {
			return err
		}
		spec := sjac.SequentialJobSpec()
		done, err := set(sj, spec)
		if err != nil {
			return err
		}
		intent := sjac.SequentialJob(sj.Name, sj.Namespace).WithSpec(spec)
		opts := []client.ApplyOption{client.FieldOwner(PluginFieldManager)}
		if force {
			opts = append(opts, client.ForceOwnership)
		}
		if err := c.Apply(cmd.Context(), intent, opts...); err != nil {
			return err
		}
		if output != "" {
			applied := &v1alpha1.SequentialJob{}
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: sj.Namespace, Name: sj.Name}, applied); err != nil {
				return err
			}
			return printSequentialJob(cmd.OutOrStdout(), output, applied)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "sequentialjob.batch.example.com/%s %s\n", sj.Name, done)
		return nil
	}
	return cmd
}
