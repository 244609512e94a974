//go:build linux

package localcluster

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// stages are the kwok Stages: node ones copied from kwok's
// kustomize/stage/node/{fast,heartbeat}, pod ones of our own driven by the
// sim.batch.example.com/* annotations (see docs/local-cluster.md).
//
//go:embed stages/*.yaml
var stages embed.FS

// NodeName is the one fake node kwok runs pods on.
const NodeName = "kwok-node-0"

const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// kwokConfiguration must set every parallelism option above 0: kwok exits
// otherwise when run out of cluster with --config.
const kwokConfiguration = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: ` + kwokNodeAnnotation + `=fake
  nodePlayStageParallelism: 4
  podPlayStageParallelism: 8
  nodeLeaseParallelism: 2
  podsOnNodeSyncParallelism: 2
  nodeLeaseDurationSeconds: 40
  enablePodsOnNodeSyncListPager: false
  enablePodsOnNodeSyncStreamWatch: true
  cidr: 10.0.0.0/24
`

// StageFiles returns the embedded Stage documents by file name, for
// documentation and tests.
func StageFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(stages, "stages", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := stages.ReadFile(path)
		out[filepath.Base(path)] = data
		return err
	})
	return out, err
}

// writeKwokConfig writes the KwokConfiguration followed by every Stage to
// one multi-document file, the form kwok's --config reads.
func writeKwokConfig(path string) error {
	files, err := StageFiles()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(kwokConfiguration)
	for _, name := range names {
		b.WriteString("---\n")
		b.Write(files[name])
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// createNode creates the fake node kwok manages, waits for kwok to report it
// Ready, and removes the not-ready taint the apiserver put on it: without
// the node lifecycle controller nothing else would, and the scheduler would
// place no pod on the node.
func createNode(ctx context.Context, cs kubernetes.Interface) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"type":                   "kwok",
				"kubernetes.io/hostname": NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", NodeName, err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if !nodeReady(n) {
			return false, nil
		}
		taints := slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(t corev1.Taint) bool {
			return t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable
		})
		if len(taints) == len(n.Spec.Taints) {
			return true, nil
		}
		n.Spec.Taints = taints
		// Check again whatever the update did: a conflict retries, a
		// success confirms.
		_, _ = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s did not become Ready and untainted (is kwok running? see its log): %w", NodeName, err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
