package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	sjac "example.com/sequentialjob/apis/batch/v1alpha1/applyconfiguration/batch/v1alpha1"
)

func init() { subcommands = append(subcommands, newApproveCommand) }

// ApproveFieldManagerPrefix prefixes the approver's user name in the field
// manager that applies an approval: metadata.managedFields then records
// who approved each entry of spec.approvedSteps (a list set, so the entries
// of several approvers merge, and two approvers of one step co-own it).
const ApproveFieldManagerPrefix = "kubectl-sequentialjob-approve/"

// maxFieldManagerLength is the apiserver's limit on a field manager's name.
const maxFieldManagerLength = 128

func newApproveCommand() *cobra.Command {
	var step, manager string
	cmd := &cobra.Command{
		Use:   "approve NAME --step STEP",
		Short: "Release a step's approval gate: add it to spec.approvedSteps under your own field manager",
		Long: `approve applies spec.approvedSteps: [STEP] with server-side apply, under the field
manager kubectl-sequentialjob-approve/<your user name> (asked of the apiserver with a
SelfSubjectReview, so it is who the apiserver says you are, --as included), so that
metadata.managedFields records who approved. The step must have an approval gate
(stepSettings approval: Required). Approving before the run reaches the step lets
it pass without waiting.`,
		Args: cobra.ExactArgs(1),
	}
	flags := newClusterFlags(cmd)
	cmd.Flags().StringVar(&step, "step", "", "the gated step to approve (required)")
	cmd.Flags().StringVar(&manager, "field-manager", "", "the field manager to apply as (default: kubectl-sequentialjob-approve/<user name>)")
	_ = cmd.MarkFlagRequired("step")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		sj := &v1alpha1.SequentialJob{}
		c, err := flags.getNamed(cmd.Context(), args[0], sj)
		if err != nil {
			return err
		}
		if err := checkGate(sj, step); err != nil {
			return err
		}
		if manager == "" {
			review := &authenticationv1.SelfSubjectReview{}
			if err := c.Create(cmd.Context(), review); err != nil {
				return fmt.Errorf("cannot tell who approves (SelfSubjectReview: %w): pass --field-manager", err)
			}
			manager = approveFieldManager(review.Status.UserInfo.Username)
		}
		intent := sjac.SequentialJob(sj.Name, sj.Namespace).WithSpec(sjac.SequentialJobSpec().WithApprovedSteps(step))
		if err := c.Apply(cmd.Context(), intent, client.FieldOwner(manager)); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "sequentialjob.batch.example.com/%s step %s approved (field manager %s)\n", sj.Name, step, manager)
		return nil
	}
	return cmd
}

// checkGate refuses to approve a step that has no approval gate, in the
// words of the CRD rule that would refuse it too.
func checkGate(sj *v1alpha1.SequentialJob, step string) error {
	gated := slices.ContainsFunc(sj.Spec.StepSettings, func(s v1alpha1.StepSettings) bool {
		return s.Name == step && s.Approval == v1alpha1.ApprovalRequired
	})
	if !gated {
		return fmt.Errorf("sequentialjob %s: step %q has no approval gate (stepSettings approval: Required), so there is nothing to approve", sj.Name, step)
	}
	return nil
}

// approveFieldManager is the approver's field manager, cut to the
// apiserver's limit.
func approveFieldManager(user string) string {
	if user == "" {
		user = "unknown"
	}
	m := ApproveFieldManagerPrefix + user
	if len(m) > maxFieldManagerLength {
		m = m[:maxFieldManagerLength]
	}
	return m
}
