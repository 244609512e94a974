package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/render"
)

// PluginFieldManager owns the fields the CLI sets (spec.suspend,
// spec.retryToken): a manager of its own, so a GitOps tool that owns the
// rest of the spec sees who changed what, and a conflict with a value it
// owns is reported instead of silently overwritten.
const PluginFieldManager = "kubectl-sequentialjob"

// clusterFlags are kubectl's connection flags (--kubeconfig, -n, --context,
// --cluster, --user, --server, ...), read by client-go's clientcmd as
// kubectl reads them, with the same names and defaults (KUBECONFIG, the
// context's namespace).
type clusterFlags struct {
	loading   *clientcmd.ClientConfigLoadingRules
	overrides *clientcmd.ConfigOverrides
}

func newClusterFlags(cmd *cobra.Command) *clusterFlags {
	f := &clusterFlags{loading: clientcmd.NewDefaultClientConfigLoadingRules(), overrides: &clientcmd.ConfigOverrides{}}
	cmd.Flags().StringVar(&f.loading.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "path to the kubeconfig file")
	clientcmd.BindOverrideFlags(f.overrides, cmd.Flags(), clientcmd.RecommendedConfigOverrideFlags(""))
	return f
}

func (f *clusterFlags) clientConfig() clientcmd.ClientConfig {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(f.loading, f.overrides)
}

func (f *clusterFlags) restConfig() (*rest.Config, error) {
	return f.clientConfig().ClientConfig()
}

// client is a controller-runtime client for SequentialJobs and the core
// and batch types, and the namespace the flags (or the kubeconfig) name.
func (f *clusterFlags) client() (client.Client, string, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, "", err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	ns, _, err := f.clientConfig().Namespace()
	return c, ns, err
}

// printSequentialJob prints sj as -o yaml or json, as kubectl does: with
// its apiVersion and kind, and without managedFields.
func printSequentialJob(out io.Writer, format string, sj *v1alpha1.SequentialJob) error {
	sj = sj.DeepCopy()
	sj.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SequentialJob"))
	sj.ManagedFields = nil
	var data []byte
	var err error
	switch format {
	case "yaml":
		data, err = render.ToYAML(sj)
	case "json":
		data, err = json.MarshalIndent(sj, "", "    ")
		data = append(data, '\n')
	default:
		return fmt.Errorf("unknown output format %q: use yaml or json", format)
	}
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	return err
}

// getNamed is client, then the object called name in the flags' namespace:
// what every command that acts on one SequentialJob (or cron) starts with.
func (f *clusterFlags) getNamed(ctx context.Context, name string, obj client.Object) (client.Client, error) {
	c, ns, err := f.client()
	if err != nil {
		return nil, err
	}
	return c, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
}
