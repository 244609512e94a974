//go:build !linux

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func init() { subcommands = append(subcommands, newLocalCommand) }

// newLocalCommand keeps `local` visible on every OS, so that the help reads
// the same everywhere, but the local cluster runs only on Linux (see
// internal/localcluster).
func newLocalCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "local",
		Short: "Run a local cluster with the controller (Linux only)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the local cluster runs on Linux only: it starts etcd, kube-apiserver and kwok as Linux processes; use `make run` on a Linux machine")
		},
	}
}
