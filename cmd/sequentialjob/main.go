// Command sequentialjob is the user's CLI: `render` shows offline what the
// controller would do, and `local` runs a local cluster with the controller.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

// subcommands is filled by the init functions of this package's files, one
// file per subcommand.
var subcommands []func() *cobra.Command

func main() {
	root := &cobra.Command{
		Use:           "sequentialjob",
		Short:         "Work with SequentialJobs: render them offline, run them on a local cluster",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	for _, sub := range subcommands {
		root.AddCommand(sub())
	}
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
