// Package testenv starts a real kube-apiserver and etcd (envtest, binaries
// from bin/, nothing downloaded) with the SequentialJob CRD installed.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
)

// Root is the repository root, found from this file's location so tests work
// from any package directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// CRDPath is the installed form of the CRD (controller-gen output plus the
// kustomize patches), as `make manifests` renders it.
func CRDPath() string { return filepath.Join(Root(), "config", "crd", "sequentialjobs.yaml") }

// CronCRDPath is the installed form of the SequentialCronJob CRD.
func CronCRDPath() string { return filepath.Join(Root(), "config", "crd", "sequentialcronjobs.yaml") }

// BinDir holds kube-apiserver and etcd, built by `make bin`.
func BinDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(Root(), "bin")
}

func init() {
	// The scheme every test client uses knows SequentialJobs too.
	if err := v1alpha1.AddToScheme(scheme.Scheme); err != nil {
		panic(err)
	}
}

// Env is a running apiserver with the CRDs installed.
type Env struct {
	Config *rest.Config
	Client client.Client
	env    *envtest.Environment
}

// Start starts the apiserver and etcd for one test and stops them when it
// ends. It fails the test when bin/ lacks them (run `make bin`).
func Start(t testing.TB, extraAPIServerArgs ...string) *Env {
	t.Helper()
	env, err := New(extraAPIServerArgs...)
	require.NoError(t, err)
	t.Cleanup(env.Stop)
	return env
}

// New starts the apiserver and etcd; the caller stops them with Stop. It
// suits TestMain, which shares one apiserver across a package's tests.
// extraAPIServerArgs are flag name/value pairs.
func New(extraAPIServerArgs ...string) (*Env, error) {
	if _, err := os.Stat(filepath.Join(BinDir(), "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("kube-apiserver not found in %s: run `make bin` (make test does it for you)", BinDir())
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    BinDir(),
		CRDInstallOptions:        envtest.CRDInstallOptions{Paths: []string{CRDPath(), CronCRDPath()}},
		ErrorIfCRDPathMissing:    true,
		AttachControlPlaneOutput: os.Getenv("TESTENV_VERBOSE") != "",
	}
	for i := 0; i+1 < len(extraAPIServerArgs); i += 2 {
		env.ControlPlane.GetAPIServer().Configure().Set(extraAPIServerArgs[i], extraAPIServerArgs[i+1])
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, env: env}, nil
}

// Stop stops the apiserver and etcd.
func (e *Env) Stop() { _ = e.env.Stop() }
