// Command sequentialjob is the user's CLI: `render` shows offline what the
// controller would do, `local` runs a local cluster with the controller,
// and status, suspend, resume, retry and logs work with a cluster's
// SequentialJobs. Installed as kubectl-sequentialjob (make install-plugin)
// it is the kubectl plugin `kubectl sequentialjob`.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// subcommands is filled by the init functions of this package's files, one
// file per subcommand.
var subcommands []func() *cobra.Command

func main() {
	root := &cobra.Command{
		Use:           "sequentialjob",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: commandName(os.Args[0])},
		Short:         "Work with SequentialJobs: see and control runs, render them offline, run them on a local cluster",
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

// commandName is how the user called the CLI: "kubectl sequentialjob" when
// kubectl runs it as the plugin kubectl-sequentialjob, so help and errors
// show the command the user typed.
func commandName(arg0 string) string {
	if strings.HasPrefix(filepath.Base(arg0), "kubectl-") {
		return "kubectl sequentialjob"
	}
	return "sequentialjob"
}
