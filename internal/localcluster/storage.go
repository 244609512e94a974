package localcluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// StorageClassName is the local cluster's default StorageClass: a claim
// that names none gets a volume of kube-controller-manager's host-path
// provisioner (a directory under /tmp on this machine).
const StorageClassName = "standard"

// createStorageClass creates the default StorageClass. Its binding mode is
// Immediate: the binder provisions and binds a claim as soon as it exists.
// WaitForFirstConsumer would wait for the scheduler to pick a node for a
// pod that uses the claim and then provision for that node, but the
// host-path provisioner knows no topology and the kwok node has no disk;
// Immediate binds the same way and does not depend on the scheduler's
// volume binding with a fake node.
func createStorageClass(ctx context.Context, cs kubernetes.Interface) error {
	class := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "kubernetes.io/host-path",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
	_, err := cs.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default StorageClass: %w", err)
	}
	return nil
}
