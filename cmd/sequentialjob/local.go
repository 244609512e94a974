//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/internal/kueue"
	"example.com/sequentialjob/internal/localcluster"
)

func init() { subcommands = append(subcommands, newLocalCommand) }

func newLocalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a local cluster (no Docker, nothing downloaded) with the controller",
	}
	cmd.AddCommand(newLocalRunCommand())
	return cmd
}

// localRunOptions are the flags of `sequentialjob local run`.
type localRunOptions struct {
	binDir       string
	dataDir      string
	crds         []string
	example      string
	exitWhenDone bool
	// kueueModule, when set, starts a real Kueue (bin/kueue) whose
	// manifests are in that directory (the sigs.k8s.io/kueue module), and
	// applies kueueQueues.
	kueueModule string
	kueueQueues string
}

func newLocalRunCommand() *cobra.Command {
	o := localRunOptions{binDir: "bin", dataDir: ".local", crds: []string{"config/crd/sequentialjobs.yaml", "config/crd/sequentialcronjobs.yaml"}}
	cmd := &cobra.Command{
		Use:   "run [--bin DIR] [--dir DIR] [--crd FILE]... [--example FILE] [--exit-when-done]",
		Short: "Start a local cluster, install the CRDs, run the controller, apply an example and show its progress",
		Long: `run starts a local cluster from the binaries in --bin (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok with one fake node), installs the
CRDs (SequentialJob, SequentialCronJob) with kubectl apply --server-side, starts bin/sequentialjob-controller,
applies --example when set, and prints one line for each step transition of
every SequentialJob in the cluster.

The kubeconfig is written to DIR/kubeconfig, so another terminal can use
kubectl against the cluster. Pods do not really run: kwok plays them, for the
duration and with the exit code their sim.batch.example.com/* annotations ask
for (see docs/local-cluster.md).

It runs until Ctrl-C, then stops every process it started and removes what it
wrote to DIR. With --exit-when-done it exits once every SequentialJob has
finished: 0 when all succeeded, 1 otherwise. ` + "`make run`" + ` runs this.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLocal(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.binDir, "bin", o.binDir, "directory with the control-plane binaries, kwok and sequentialjob-controller (make bin build)")
	f.StringVar(&o.dataDir, "dir", o.dataDir, "directory for the kubeconfig, etcd data and logs; locked while running")
	f.StringSliceVar(&o.crds, "crd", o.crds, "CRD files to install (repeat, or separate with commas)")
	f.StringVar(&o.example, "example", "", "YAML file to apply once the controller runs; empty applies nothing")
	f.BoolVar(&o.exitWhenDone, "exit-when-done", false, "exit when every SequentialJob has finished: 0 if all succeeded, 1 otherwise")
	f.StringVar(&o.kueueModule, "kueue-module", "", "start Kueue (--bin/kueue) too, with the manifests of this sigs.k8s.io/kueue module directory (make run KUEUE=1 sets it)")
	f.StringVar(&o.kueueQueues, "kueue-queues", "examples/kueue/queues.yaml", "the Kueue queues to apply once Kueue runs")
	return cmd
}

// errSomeFailed is the exit status of --exit-when-done when a SequentialJob
// failed.
var errSomeFailed = errors.New("not every SequentialJob succeeded")

func runLocal(parent context.Context, out io.Writer, o localRunOptions) (err error) {
	if parent == nil {
		parent = context.Background()
	}
	start := time.Now()
	ctx, stopSignals := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	if o.example != "" {
		if _, err := os.Stat(o.example); err != nil {
			return fmt.Errorf("--example: %w", err)
		}
	}
	fmt.Fprintf(out, "Starting the local cluster in %s (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)...\n", relPath(o.dataDir))
	cluster, err := startCluster(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "Interrupted; every process is stopped.")
			return nil
		}
		return err
	}
	defer func() {
		if err != nil && !errors.Is(err, errSomeFailed) {
			// Something broke: keep the logs that say what. The next run
			// clears them.
			cluster.SetKeepData(true)
			fmt.Fprintf(out, "Stopping every process; the logs stay in %s.\n", relPath(cluster.LogDir()))
		} else {
			fmt.Fprintf(out, "Stopping every process and removing the data in %s...\n", relPath(o.dataDir))
		}
		cluster.Stop()
		fmt.Fprintln(out, "Stopped.")
	}()
	fmt.Fprintf(out, "Cluster up in %s; CRDs installed (kubectl apply --server-side -f %s).\n", since(start), strings.Join(o.crds, " -f "))

	controller, err := cluster.StartController(ctx, localcluster.ControllerOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	fmt.Fprintf(out, "Controller running (log: %s).\n", relPath(filepath.Join(cluster.LogDir(), "sequentialjob-controller.log")))
	if o.kueueModule != "" {
		k, err := startKueue(ctx, out, cluster, o)
		if err != nil {
			return err
		}
		defer func() { _ = k.Stop() }()
	}

	if o.example != "" {
		if err := applyExample(ctx, out, cluster, o.example); err != nil {
			return err
		}
	}
	printHowToWatch(out, cluster, o)

	progress := newProgressPrinter(out, start)
	stopWatching, err := watchRuns(ctx, cluster, progress)
	if err != nil {
		return err
	}
	defer stopWatching()
	return waitForTheEnd(ctx, out, o, stopSignals, progress, cluster, controller)
}

// startCluster starts the local cluster with the first CRD, then installs
// the others.
func startCluster(ctx context.Context, o localRunOptions) (*localcluster.Cluster, error) {
	first := ""
	if len(o.crds) > 0 {
		first = o.crds[0]
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: o.binDir, DataDir: o.dataDir, CRDPath: first})
	if err != nil {
		return nil, err
	}
	for _, crd := range o.crds[min(1, len(o.crds)):] {
		if err := cluster.InstallCRD(ctx, crd); err != nil {
			cluster.Stop()
			return nil, err
		}
	}
	return cluster, nil
}

// applyExample applies the example file with server-side apply and prints
// what kubectl said.
func applyExample(ctx context.Context, out io.Writer, cluster *localcluster.Cluster, example string) error {
	applied, err := cluster.Kubectl(ctx, "apply", "--server-side", "-f", example)
	if err != nil {
		return fmt.Errorf("applying %s: %w\n%s", example, err, applied)
	}
	fmt.Fprint(out, string(applied))
	return nil
}

// printHowToWatch tells the user how to reach the cluster and how the
// command ends.
func printHowToWatch(out io.Writer, cluster *localcluster.Cluster, o localRunOptions) {
	kubeconfig := relPath(cluster.Kubeconfig)
	fmt.Fprintf(out, "\nKubeconfig: %s\n", kubeconfig)
	fmt.Fprintf(out, "In another terminal:  kubectl --kubeconfig %s get sqj -w     (kubectl is %s)\n", kubeconfig, relPath(filepath.Join(o.binDir, "kubectl")))
	if o.exitWhenDone {
		fmt.Fprintln(out, "Exits once every SequentialJob has finished; Ctrl-C stops earlier.")
	} else {
		fmt.Fprintln(out, "Ctrl-C stops the cluster and removes its data.")
	}
	fmt.Fprintln(out)
}

// watchRuns feeds every SequentialJob of the cluster to progress, from an
// informer, until the returned stop is called or ctx ends.
func watchRuns(ctx context.Context, cluster *localcluster.Cluster, progress *progressPrinter) (stop func(), err error) {
	informerCache, err := cache.New(cluster.Config, cache.Options{Scheme: localScheme()})
	if err != nil {
		return nil, err
	}
	informer, err := informerCache.GetInformer(ctx, &v1alpha1.SequentialJob{})
	if err != nil {
		return nil, err
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { progress.observe(obj) },
		UpdateFunc: func(_, obj any) { progress.observe(obj) },
		DeleteFunc: func(obj any) { progress.forget(obj) },
	}); err != nil {
		return nil, err
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	go func() { _ = informerCache.Start(cacheCtx) }()
	return stopCache, nil
}

// waitForTheEnd returns when ctx ends (Ctrl-C: nil), when every
// SequentialJob has finished and o.exitWhenDone (errSomeFailed if one
// failed), or when the controller or the cluster fails.
func waitForTheEnd(ctx context.Context, out io.Writer, o localRunOptions, stopSignals func(), progress *progressPrinter, cluster *localcluster.Cluster, controller *localcluster.Process) error {
	health := time.NewTicker(time.Second)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			// A second Ctrl-C now ends the process at once; the children
			// still die (parent-death signal and the cluster's watchdog).
			stopSignals()
			fmt.Fprintln(out)
			return nil
		case <-progress.changed:
			if !o.exitWhenDone {
				continue
			}
			if done, failed := progress.allDone(); done {
				if failed {
					return errSomeFailed
				}
				return nil
			}
		case <-health.C:
			if exited, werr := controller.Exited(); exited {
				return fmt.Errorf("the controller exited (%v); see %s", werr, relPath(cluster.LogDir()))
			}
			if err := cluster.Healthy(); err != nil {
				return err
			}
		}
	}
}

func localScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

// startKueue starts a real Kueue next to the cluster and applies the
// queues: `make run KUEUE=1`. The caller stops it before the cluster.
func startKueue(ctx context.Context, out io.Writer, cluster *localcluster.Cluster, o localRunOptions) (*kueue.Kueue, error) {
	start := time.Now()
	k, err := kueue.Start(ctx, cluster.Kubeconfig, cluster.Config, kueue.Options{BinDir: o.binDir, Dir: filepath.Join(o.dataDir, "kueue"), ModuleDir: o.kueueModule})
	if err != nil {
		return nil, fmt.Errorf("starting Kueue: %w", err)
	}
	applied, err := cluster.Kubectl(ctx, "apply", "--server-side", "-f", o.kueueQueues)
	if err != nil {
		_ = k.Stop()
		return nil, fmt.Errorf("applying %s: %w\n%s", o.kueueQueues, err, applied)
	}
	fmt.Fprintf(out, "Kueue running in %s (log: %s); queues applied:\n%s", since(start), relPath(k.LogPath), applied)
	return k, nil
}
