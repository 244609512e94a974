package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/schedule"
)

func init() { subcommands = append(subcommands, newTriggerCommand) }

// manualInfix names a triggered run: <cron>-manual-<suffix>.
const manualInfix = "-manual-"

func newTriggerCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "trigger CRON",
		Short: "Create a run of a SequentialCronJob now, from its template (as kubectl create job --from=cronjob/CRON)",
		Long: `trigger creates a SequentialJob from the SequentialCronJob's sequentialJobTemplate
now, whatever its schedule, suspend and concurrencyPolicy say, named
<cron>-manual-<random suffix>. The cron controls it, as its scheduled runs:
it is listed in status.active while it runs and counts towards the history limits.`,
		Args: cobra.ExactArgs(1),
	}
	flags := newClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json: print the SequentialJob as created")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cron := &v1alpha1.SequentialCronJob{}
		c, err := flags.getNamed(cmd.Context(), args[0], cron)
		if err != nil {
			return err
		}
		run := schedule.NewRun(cron, manualRunName(cron.Name, rand.String(5)), time.Time{})
		if run.Annotations == nil {
			run.Annotations = map[string]string{}
		}
		run.Annotations[v1alpha1.AnnotationTriggered] = "true"
		if err := c.Create(cmd.Context(), run, client.FieldOwner(PluginFieldManager)); err != nil {
			return err
		}
		if output != "" {
			return printSequentialJob(cmd.OutOrStdout(), output, run)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "sequentialjob.batch.example.com/%s created\n", run.Name)
		return nil
	}
	return cmd
}

// manualRunName is <cron>-manual-<suffix>, the cron's name cut so that the
// whole fits a SequentialJob name (v1alpha1.MaxNameLength).
func manualRunName(cron, suffix string) string {
	if room := v1alpha1.MaxNameLength - len(manualInfix) - len(suffix); len(cron) > room {
		cron = cron[:room]
	}
	return cron + manualInfix + suffix
}
