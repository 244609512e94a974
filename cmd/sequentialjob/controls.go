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
	var token string
	cmd := controlCommand("retry NAME [--retry-token TOKEN]", "Retry a Failed run from its failed step (a new spec.retryToken)",
		func(sj *v1alpha1.SequentialJob, spec *sjac.SequentialJobSpecApplyConfiguration) (string, error) {
			if sj.Status.Phase != v1alpha1.PhaseFailed {
				return "", fmt.Errorf("sequentialjob %s is %s, not Failed: only a Failed run is retried", sj.Name, sj.Status.Phase)
			}
			t := token
			if t == "" {
				t = "retry-" + time.Now().UTC().Format("20060102T150405Z")
			}
			if t == sj.Spec.RetryToken || t == sj.Status.RetryToken {
				return "", fmt.Errorf("retry token %q was already used: a retry needs a new value", t)
			}
			spec.WithRetryToken(t)
			return fmt.Sprintf("retried (retryToken %s)", t), nil
		})
	cmd.Flags().StringVar(&token, "retry-token", "", "the new spec.retryToken (default: retry-<UTC time>)")
	return cmd
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
