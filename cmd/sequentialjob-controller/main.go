// Command sequentialjob-controller runs the SequentialJob controller: a
// controller-runtime manager with leader election, metrics and probes.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	// The time zone database in the binary: spec.timeZone of a
	// SequentialCronJob must not depend on the image having /usr/share/zoneinfo.
	_ "time/tzdata"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "example.com/sequentialjob/apis/batch/v1alpha1"
	"example.com/sequentialjob/reconciler"
	"example.com/sequentialjob/reconciler/cron"
)

// Secure metrics (--metrics-secure, the default) check each scrape's bearer
// token with a TokenReview and its right to GET /metrics with a
// SubjectAccessReview (controller-runtime's filters.WithAuthenticationAndAuthorization).
//
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// version and revision are set by the image build (tools/image, with
// -ldflags -X); a plain `go build` leaves these.
var version, revision = "dev", "unknown"

func main() {
	var (
		metricsAddr, probeAddr, leaderNamespace string
		pprofAddr                               string
		leaderElect, metricsSecure, compression bool
		showVersion                             bool
		qps                                     float64
		burst, workers                          int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, with authentication and authorization through the apiserver.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; 0 disables them.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address of Go's /debug/pprof endpoints, for profiling; 0 (the default) disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&leaderNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; required out of cluster.")
	flag.Float64Var(&qps, "kube-api-qps", reconciler.DefaultQPS, "Queries per second the controller's client may send to the apiserver (sustained); see docs/performance.md.")
	flag.IntVar(&burst, "kube-api-burst", reconciler.DefaultBurst, "Requests the controller's client may send at once above --kube-api-qps.")
	flag.IntVar(&workers, "max-concurrent-reconciles", reconciler.DefaultWorkers, "SequentialJobs reconciled at the same time.")
	flag.BoolVar(&compression, "kube-api-compression", false, "Ask the apiserver for gzip-compressed responses. Off by default: next to the apiserver, compressing every watch event and response costs both sides CPU and saves nothing.")
	flag.BoolVar(&showVersion, "version", false, "Print the version and the source revision, and exit.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	if showVersion {
		fmt.Printf("sequentialjob-controller %s (revision %s)\n", version, revision)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(scheme))
	must(v1alpha1.AddToScheme(scheme))

	metricsOptions := metricsserver.Options{BindAddress: metricsAddr, SecureServing: metricsSecure}
	// Secure metrics (the default): see the RBAC markers above main.
	if metricsSecure {
		metricsOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
		// HTTP/2 is off: it is exposed to the HTTP/2 Rapid Reset CVEs.
		metricsOptions.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.DisableCompression = !compression

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "sequentialjob-controller.batch.example.com",
		LeaderElectionNamespace: leaderNamespace,
		// The manager process exits as soon as leadership is lost, so a
		// faster failover is safe.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         reconciler.CacheOptions(),
	})
	must(err)

	r, err := reconciler.New(mgr, reconciler.NewMetrics(metrics.Registry, mgr.GetClient()))
	must(err)
	must(r.SetupWithManager(mgr, workers))
	must(setupCron(mgr))
	must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	log.Info("starting manager", "version", version, "revision", revision)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// setupCron starts the SequentialCronJob controller when its CRD is
// installed (config/default installs it). Without it the SequentialJob
// controller runs alone, as before the kind existed; installing the CRD
// later takes a restart of the controller.
func setupCron(mgr ctrl.Manager) error {
	gk := schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "SequentialCronJob"}
	if _, err := mgr.GetRESTMapper().RESTMapping(gk, v1alpha1.GroupVersion.Version); err != nil {
		if meta.IsNoMatchError(err) {
			ctrl.Log.WithName("setup").Info("the SequentialCronJob CRD is not installed: the cron controller is off until a restart after it is")
			return nil
		}
		return err
	}
	c, err := cron.New(mgr)
	if err != nil {
		return err
	}
	return c.SetupWithManager(mgr)
}

func must(err error) {
	if err != nil {
		ctrl.Log.WithName("setup").Error(err, "setup failed")
		os.Exit(1)
	}
}
