package deploy

import (
	"context"
	"fmt"

	ferry "github.com/ferry-gitops/ferry"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// selectedNodeAnnotation is set on a claim once the scheduler has placed its
// first consumer; from then on the claim is expected to bind.
const selectedNodeAnnotation = "volume.kubernetes.io/selected-node"

// claimHealth corrects kstatus for a PersistentVolumeClaim that is not
// Bound: on a WaitForFirstConsumer class it stays Pending, correctly, until a
// pod using it is scheduled, so it is healthy until then.
func (c *Client) claimHealth(ctx context.Context, oh ferry.ObjectHealth, u *unstructured.Unstructured) (ferry.ObjectHealth, error) {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	class, _, _ := unstructured.NestedString(u.Object, "spec", "storageClassName")
	if phase != "Pending" || class == "" {
		return oh, nil
	}
	if node := u.GetAnnotations()[selectedNodeAnnotation]; node != "" {
		oh.Reason = fmt.Sprintf("Pending: waiting for a volume on node %s", node)
		return oh, nil
	}
	sc, err := c.kube.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		oh.Status, oh.Reason = ferry.HealthUnhealthy, fmt.Sprintf("Pending: StorageClass %s does not exist", class)
		return oh, nil
	}
	if err != nil {
		return oh, fmt.Errorf("read StorageClass %s: %w", class, err)
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		oh.Status = ferry.HealthHealthy
		oh.Reason = fmt.Sprintf("Pending until a pod uses it (StorageClass %s binds on first consumer)", class)
	}
	return oh, nil
}
