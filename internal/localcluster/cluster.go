//go:build linux

package localcluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configure Start.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubectl and kwok (`make bin`).
	BinDir string
	// DataDir receives the kubeconfig, etcd's data, certificates, keys and
	// component logs. It is locked while the cluster runs: a second cluster
	// on the same DataDir fails with ErrAlreadyRunning. Stop removes what
	// Start created in it (and DataDir itself when that leaves it empty).
	DataDir string
	// CRDPath, when set, is installed with `kubectl apply --server-side`,
	// the way a user installs it, and waited for until Established.
	CRDPath string
	// Logs receives every component's output, each line prefixed with the
	// component's name. Nil writes one file per component to DataDir/logs.
	Logs io.Writer
	// KeepData leaves DataDir's contents in place on Stop, for debugging.
	KeepData bool
	// AuditUsers, when set, makes the apiserver write an audit log of
	// these users' requests (metadata only) to AuditLog(). Benchmarks count
	// a controller's requests from it.
	AuditUsers []string
}

// Cluster is a running local cluster.
type Cluster struct {
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Config is the same credentials as a rest.Config.
	Config *rest.Config
	// Clientset is a client for Config.
	Clientset kubernetes.Interface

	opts     Options
	env      *envtest.Environment
	lock     *os.File
	watchdog *exec.Cmd
	// watchdogPipe is the watchdog's stdin: it reads EOF when this
	// process ends.
	watchdogPipe io.WriteCloser
	logs         io.Writer

	mu          sync.Mutex
	system      []*Process // kube-controller-manager, kube-scheduler, kwok
	controllers []*Process
	userFiles   []string
	stopped     bool
}

// Entries Start creates in DataDir; Stop removes exactly these, so a
// DataDir that holds anything else loses nothing.
const (
	kubeconfigFile  = "kubeconfig"
	logsDir         = "logs"
	etcdDir         = "etcd"
	apiserverDir    = "apiserver"
	saKeyFile       = "sa.key"
	caFile          = "ca.crt"
	kwokFile        = "kwok.yaml"
	auditPolicyFile = "audit-policy.yaml"
)

var ownedEntries = []string{kubeconfigFile, logsDir, etcdDir, apiserverDir, saKeyFile, caFile, kwokFile, auditPolicyFile}

// Start starts every component, creates the fake node, installs the CRD when
// asked, and returns once a Job's pod can be scheduled and run. On error,
// everything already started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if err := opts.prepare(); err != nil {
		return nil, err
	}
	lock, err := acquireLock(opts.DataDir)
	if err != nil {
		return nil, err
	}
	c = &Cluster{opts: opts, lock: lock, Kubeconfig: filepath.Join(opts.DataDir, kubeconfigFile)}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	// Whatever a previous run left (it may have been killed) is stale.
	c.removeOwned()
	if err := os.MkdirAll(filepath.Join(opts.DataDir, logsDir), 0o755); err != nil {
		return c, err
	}
	if opts.Logs != nil {
		c.logs = &syncWriter{w: opts.Logs}
	}

	if err := c.startAPIServer(); err != nil {
		return c, err
	}
	if err := c.startSystemComponents(); err != nil {
		return c, err
	}
	if err := createNode(ctx, c.Clientset); err != nil {
		return c, err
	}
	if err := createStorageClass(ctx, c.Clientset); err != nil {
		return c, err
	}
	if err := c.waitForControllerManager(ctx); err != nil {
		return c, err
	}
	if opts.CRDPath != "" {
		if err := c.InstallCRD(ctx, opts.CRDPath); err != nil {
			return c, err
		}
	}
	return c, nil
}

// prepare checks opts, makes its directories absolute, and checks that
// every binary the cluster runs is in BinDir.
func (opts *Options) prepare() (err error) {
	if opts.BinDir == "" || opts.DataDir == "" {
		return errors.New("localcluster: BinDir and DataDir are required")
	}
	if opts.BinDir, err = filepath.Abs(opts.BinDir); err != nil {
		return err
	}
	if opts.DataDir, err = filepath.Abs(opts.DataDir); err != nil {
		return err
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"} {
		if _, err := os.Stat(filepath.Join(opts.BinDir, bin)); err != nil {
			return fmt.Errorf("%s not found in %s: run `make bin`", bin, opts.BinDir)
		}
	}
	return nil
}

func (c *Cluster) path(name string) string { return filepath.Join(c.opts.DataDir, name) }

// AuditLog is where the apiserver writes the requests of Options.AuditUsers.
func (c *Cluster) AuditLog() string { return filepath.Join(c.opts.DataDir, logsDir, "audit.log") }

// auditPolicy logs the metadata of the given users' requests, and nothing
// else, once each (at ResponseComplete).
func auditPolicy(users []string) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n  users:\n")
	for _, u := range users {
		fmt.Fprintf(&b, "  - %q\n", u)
	}
	b.WriteString("- level: None\n")
	return []byte(b.String())
}

// UserKubeconfig creates a user of the apiserver with a client certificate
// (no group, so no privilege until RBAC grants some) and writes a
// kubeconfig for it to DataDir/<name>.kubeconfig.
func (c *Cluster) UserKubeconfig(name string) (string, error) {
	user, err := c.env.AddUser(envtest.User{Name: name}, &rest.Config{QPS: 100, Burst: 200})
	if err != nil {
		return "", err
	}
	path := c.path(name + ".kubeconfig")
	c.mu.Lock()
	c.userFiles = append(c.userFiles, path)
	c.mu.Unlock()
	return path, writeKubeconfig(path, user.Config())
}

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount namespace/name with a token from the TokenRequest API, as a
// pod of that ServiceAccount would, to DataDir/<namespace>.<name>.kubeconfig.
// The ServiceAccount must exist; the token expires after ttl.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name string, ttl time.Duration) (string, error) {
	seconds := int64(ttl.Seconds())
	tr, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	path := c.path(namespace + "." + name + ".kubeconfig")
	c.mu.Lock()
	c.userFiles = append(c.userFiles, path)
	c.mu.Unlock()
	return path, writeKubeconfig(path, &rest.Config{Host: c.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData}, BearerToken: tr.Status.Token})
}

func (c *Cluster) startAPIServer() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(c.path(saKeyFile), keyPEM, 0o600); err != nil {
		return err
	}

	apiLog, etcdLog := c.componentLog("kube-apiserver"), c.componentLog("etcd")
	c.env = &envtest.Environment{
		BinaryAssetsDirectory: c.opts.BinDir,
		DownloadBinaryAssets:  false,
		// Slow, busy machines (CI with 2 cores) need more than the 20s default.
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{CertDir: c.path(apiserverDir), Out: apiLog, Err: apiLog},
			Etcd:      &envtest.Etcd{DataDir: c.path(etcdDir), Out: etcdLog, Err: etcdLog},
		},
	}
	for _, dir := range []string{apiserverDir, etcdDir} {
		if err := os.MkdirAll(c.path(dir), 0o700); err != nil {
			return err
		}
	}
	// kube-controller-manager signs service account tokens with the same
	// key, so the key must be ours rather than envtest's.
	args := c.env.ControlPlane.GetAPIServer().Configure()
	args.Set("service-account-key-file", c.path(saKeyFile))
	args.Set("service-account-signing-key-file", c.path(saKeyFile))
	args.Set("service-account-issuer", "https://kubernetes.default.svc.cluster.local")
	// As hardened clusters (OpenShift among them) do: setting an owner
	// reference with blockOwnerDeletion takes the right to update the
	// owner's finalizers, so a controller's RBAC is tested against it.
	args.Set("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	if len(c.opts.AuditUsers) > 0 {
		policy := c.path(auditPolicyFile)
		if err := os.WriteFile(policy, auditPolicy(c.opts.AuditUsers), 0o644); err != nil {
			return err
		}
		args.Set("audit-policy-file", policy)
		args.Set("audit-log-path", c.AuditLog())
		args.Set("audit-log-format", "json")
		// Unbuffered and unrotated: a benchmark reads it as soon as its
		// run ends.
		args.Set("audit-log-mode", "blocking")
		args.Set("audit-log-maxsize", "0")
	}

	if _, err := c.env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver (logs in %s): %w", c.logHint(), err)
	}
	c.startWatchdog()

	admin, err := c.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, &rest.Config{QPS: 100, Burst: 200})
	if err != nil {
		return err
	}
	c.Config = admin.Config()
	if err := os.WriteFile(c.path(caFile), c.Config.CAData, 0o644); err != nil {
		return err
	}
	if err := writeKubeconfig(c.Kubeconfig, c.Config); err != nil {
		return err
	}
	c.Clientset, err = kubernetes.NewForConfig(c.Config)
	return err
}

// startWatchdog covers etcd and kube-apiserver, which envtest starts in
// their own process groups but without a parent-death signal: a shell that
// waits for this process's end (the pipe closes however it ends, even on
// kill -9) and then kills both groups.
func (c *Cluster) startWatchdog() {
	pids := childPids(c.opts.BinDir)
	if len(pids) == 0 {
		return
	}
	targets := make([]string, 0, len(pids))
	for _, pid := range pids {
		targets = append(targets, fmt.Sprintf("-%d", pid))
	}
	cmd := exec.Command("/bin/sh", "-c", "read -r _; kill -KILL "+strings.Join(targets, " ")+" 2>/dev/null; exit 0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		return
	}
	// The write end stays open for as long as the Cluster lives.
	c.watchdog, c.watchdogPipe = cmd, stdin
}

func (c *Cluster) stopWatchdog() {
	if c.watchdog == nil {
		return
	}
	// The apiserver and etcd are gone by now: end the watchdog without
	// letting it signal process groups whose ids may be reused.
	_ = c.watchdog.Process.Kill()
	_ = c.watchdog.Wait()
	_ = c.watchdogPipe.Close()
	c.watchdog = nil
}

// controllerManagerControllers are the kube-controller-manager controllers
// the local cluster runs: those of a production cluster that act on Jobs,
// their pods, or what admits them (docs/local-cluster.md lists the ones left
// out, and why). resourcequota computes each ResourceQuota's usage, which
// the apiserver's ResourceQuota admission plugin (on by default) needs
// before it admits anything a quota counts: without it a quota is never
// enforced, or forbids everything with "status unknown for quota".
var controllerManagerControllers = []string{
	"job", "garbagecollector", "namespace", "serviceaccount", "serviceaccount-token", "ttl-after-finished",
	"clusterrole-aggregation", "resourcequota",
	// Claims bind as on a real cluster: the binder provisions a volume for
	// each claim (the host-path provisioner, --enable-hostpath-provisioner,
	// with the default StorageClass of storage.go) and binds it; the
	// protection controllers remove the finalizers the apiserver's
	// StorageObjectInUseProtection admission adds, so a deleted claim goes
	// once no running pod uses it.
	"persistentvolume-binder-controller", "persistentvolumeclaim-protection-controller", "persistentvolume-protection-controller",
}

func (c *Cluster) startSystemComponents() error {
	kcm := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--controllers=" + strings.Join(controllerManagerControllers, ","),
		"--service-account-private-key-file=" + c.path(saKeyFile),
		"--root-ca-file=" + c.path(caFile),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-job-syncs=10",
		"--concurrent-gc-syncs=10",
		"--enable-hostpath-provisioner",
	}
	scheduler := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	}
	if err := writeKwokConfig(c.path(kwokFile)); err != nil {
		return err
	}
	kwok := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--config=" + c.path(kwokFile),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
	}
	for _, comp := range []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", kcm},
		{"kube-scheduler", scheduler},
		{"kwok", kwok},
	} {
		p, err := startProcess(comp.name, c.path(logsDir), c.logs, filepath.Join(c.opts.BinDir, comp.name), comp.args...)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.system = append(c.system, p)
		c.mu.Unlock()
	}
	return nil
}

// waitForControllerManager waits until the serviceaccount controller has
// created the default ServiceAccount: proof that kube-controller-manager
// runs its controllers. It fails early when a component exits.
func (c *Cluster) waitForControllerManager(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.checkSystem(); err != nil {
			return false, err
		}
		_, err := c.Clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for kube-controller-manager (logs in %s): %w", c.logHint(), err)
	}
	return nil
}

// checkSystem returns an error when a system component has exited.
func (c *Cluster) checkSystem() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.system {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited (%v); see %s", p.Name, err, c.logHint())
		}
	}
	return nil
}

// Healthy returns an error when a component the cluster started has exited.
func (c *Cluster) Healthy() error { return c.checkSystem() }

// InstallCRD applies a CRD file with `kubectl apply --server-side`, as a user
// would, and waits until the apiserver serves it.
func (c *Cluster) InstallCRD(ctx context.Context, path string) error {
	if out, err := c.Kubectl(ctx, "apply", "--server-side", "-f", path); err != nil {
		return fmt.Errorf("installing %s: %w\n%s", path, err, out)
	}
	// kubectl wait fails, rather than waits, while the apiserver has not
	// yet written the CRD's first conditions: retry it.
	var out []byte
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		out, err = c.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=10s", "-f", path)
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be established: %w\n%s", path, err, out)
	}
	return nil
}

// Kubectl runs bin/kubectl against the cluster and returns its combined
// output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.opts.BinDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	return cmd.CombinedOutput()
}

// ControllerOptions configure StartController.
type ControllerOptions struct {
	// Path of the controller binary; default BinDir/sequentialjob-controller.
	Path string
	// Args are added after the ones StartController sets.
	Args []string
	// ReadyTimeout bounds the wait for the controller's /readyz; default 60s.
	ReadyTimeout time.Duration
}

// StartController starts the SequentialJob controller against the cluster,
// with metrics off, leader election off and a health probe on a free local
// port, and returns once its /readyz answers. Stop stops it with the
// cluster; the e2e tests also Kill it mid-run and start another.
func (c *Cluster) StartController(ctx context.Context, opts ControllerOptions) (*Process, error) {
	if opts.Path == "" {
		opts.Path = filepath.Join(c.opts.BinDir, "sequentialjob-controller")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	probe, err := FreeLocalAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + c.Kubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + probe,
		"--leader-elect=false",
	}, opts.Args...)
	p, err := startProcess("sequentialjob-controller", c.path(logsDir), c.logs, opts.Path, args...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.controllers = append(c.controllers, p)
	c.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, opts.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		if exited, err := p.Exited(); exited {
			return false, fmt.Errorf("sequentialjob-controller exited (%v); see %s", err, c.logHint())
		}
		resp, err := client.Get("http://" + probe + "/readyz")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("waiting for the controller to be ready: %w", err)
	}
	return p, nil
}

// FreeLocalAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeLocalAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }() // only a probe for a free port
	return l.Addr().String(), nil
}

// SetKeepData decides, up to Stop, whether Stop leaves DataDir's contents
// in place (for example to keep the logs of a failed test run).
func (c *Cluster) SetKeepData(keep bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.KeepData = keep
}

// LogDir is where component logs go when Options.Logs is nil.
func (c *Cluster) LogDir() string { return c.path(logsDir) }

func (c *Cluster) logHint() string {
	if c.logs != nil {
		return "the output above"
	}
	return c.path(logsDir)
}

// componentLog is the writer for envtest's processes. envtest closes
// nothing, so the files stay open until the process ends; that is a handful
// of descriptors per cluster.
func (c *Cluster) componentLog(name string) io.Writer {
	if c.logs != nil {
		return &prefixWriter{prefix: "[" + name + "] ", w: c.logs}
	}
	f, err := os.OpenFile(c.path(filepath.Join(logsDir, name+".log")), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	return f
}

// Stop stops every process the cluster started (controllers first, etcd
// last), removes what Start put in DataDir unless KeepData, and releases the
// lock. It is safe to call more than once.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	keep := c.opts.KeepData
	procs := append(append([]*Process{}, c.controllers...), reverse(c.system)...)
	c.mu.Unlock()

	for _, p := range procs {
		_ = p.Stop(10 * time.Second)
	}
	if c.env != nil {
		_ = c.env.Stop()
	}
	c.stopWatchdog()
	if !keep {
		c.removeOwned()
	}
	if c.lock != nil {
		_ = c.lock.Close()
		if !keep {
			_ = os.Remove(c.path(lockFile))
			_ = os.Remove(c.opts.DataDir) // only when now empty
		}
	}
}

func (c *Cluster) removeOwned() {
	c.mu.Lock()
	for _, f := range c.userFiles {
		_ = os.Remove(f)
	}
	c.mu.Unlock()
	for _, name := range ownedEntries {
		_ = os.RemoveAll(c.path(name))
	}
}

func reverse(ps []*Process) []*Process {
	out := make([]*Process, 0, len(ps))
	for i := len(ps) - 1; i >= 0; i-- {
		out = append(out, ps[i])
	}
	return out
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	const name = "sequentialjob-local"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: metav1.NamespaceDefault}
	kc.CurrentContext = name
	return clientcmd.WriteToFile(*kc, path)
}

// syncWriter serializes writes from the components' output copiers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
