// Package outofcluster is what internal/kueue and internal/jobset share to
// run a controller manager (Kueue's, JobSet's) out of cluster, next to a
// local cluster, with its webhooks served on 127.0.0.1 as the apiserver
// reaches them:
//
//   - Serving: two free local ports (webhook, health probes) and a CA with
//     a serving certificate valid for 127.0.0.1, written where
//     controller-runtime's webhook server reads them;
//   - Process: the manager's process, its log file, Healthy, Stop, and
//     WaitReady, which waits for /readyz and then for the webhook server's
//     TLS handshake with our CA;
//   - Installer and the manifest helpers: reading a module's CRDs and
//     webhook manifests, pointing them at https://127.0.0.1:<port>, and
//     applying (and at Stop removing) them;
//   - ModuleDir and FindModuleDir: the module source a binary is built
//     from (tools/<name>/go.mod), so the manifests match the binary.
//
// What differs between the managers (their configuration file, which CRDs
// convert, which webhooks are kept, RBAC, certificate management) stays in
// their packages.
package outofcluster
