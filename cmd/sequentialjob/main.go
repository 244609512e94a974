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
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// subcommands is filled by the init functions of this package's files, one
// file per subcommand.
var subcommands []func() *cobra.Command

func main() {
	// `local run` watches the cluster through controller-runtime's cache,
	// whose informers log at Info when they stop (Ctrl-C). Without a logger
	// set, controller-runtime prints a warning with a stack trace instead;
	// the CLI's own output is its progress lines, so only errors are logged.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
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
