package localcluster

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
)

//go:embed stages/*.yaml
var stageFiles embed.FS

// stageConfig assembles kwok's configuration: the node, pod and volume
// stages, with the volume stages limited to the cluster's own classes.
func stageConfig(classes []StorageClass) []byte {
	var names, retained []string
	for _, c := range classes {
		names = append(names, strconv.Quote(c.Name))
		if c.Retain {
			retained = append(retained, strconv.Quote(c.Name))
		}
	}
	celList := "[" + strings.ReplaceAll(strings.Join(names, ", "), `"`, `'`) + "]"
	tplList := "(list " + strings.Join(retained, " ") + ")"
	var out bytes.Buffer
	for _, f := range []string{"stages/node.yaml", "stages/pod.yaml", "stages/volume.yaml"} {
		b, err := stageFiles.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time
		}
		s := strings.ReplaceAll(string(b), "__CLASSES__", celList)
		s = strings.ReplaceAll(s, "__RETAINED__", tplList)
		out.WriteString("---\n")
		out.WriteString(s)
	}
	return out.Bytes()
}

func grantControllerManager(ctx context.Context, client kubernetes.Interface) error {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-localcluster:kube-controller-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "system:kube-controller-manager"}},
	}
	_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("grant the controller manager its roles: %w", err)
	}
	return nil
}

func createStorageClasses(ctx context.Context, client kubernetes.Interface, classes []StorageClass) error {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	for _, c := range classes {
		reclaim := corev1.PersistentVolumeReclaimDelete
		if c.Retain {
			reclaim = corev1.PersistentVolumeReclaimRetain
		}
		sc := &storagev1.StorageClass{
			ObjectMeta:        metav1.ObjectMeta{Name: c.Name},
			Provisioner:       "localcluster.ferry.dev/kwok",
			ReclaimPolicy:     &reclaim,
			VolumeBindingMode: &wait,
		}
		if c.Default {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create StorageClass %s: %w", c.Name, err)
		}
	}
	return nil
}

func createNodes(ctx context.Context, client kubernetes.Interface, opts Options) ([]string, error) {
	capacity := corev1.ResourceList{}
	var err error
	if capacity[corev1.ResourceCPU], err = resource.ParseQuantity(opts.NodeCPU); err != nil {
		return nil, fmt.Errorf("node CPU %q: %w", opts.NodeCPU, err)
	}
	if capacity[corev1.ResourceMemory], err = resource.ParseQuantity(opts.NodeMemory); err != nil {
		return nil, fmt.Errorf("node memory %q: %w", opts.NodeMemory, err)
	}
	capacity[corev1.ResourcePods] = *resource.NewQuantity(int64(opts.NodePods), resource.DecimalSI)
	var names []string
	for i := range opts.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname":      name,
					"kubernetes.io/os":            "linux",
					"kubernetes.io/arch":          "amd64",
					"type":                        "kwok",
					"topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i%3),
				},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create node %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}

func waitNodesReady(ctx context.Context, client kubernetes.Interface, names []string, timeout time.Duration) error {
	return poll(ctx, timeout, func() (bool, string, error) {
		for _, name := range names {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			if !nodeReady(n) {
				return false, "node " + name + " not Ready", nil
			}
		}
		return true, "", nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// InstallCRDs creates the CustomResourceDefinitions in the manifests (YAML,
// several documents allowed) and waits until each is Established.
func (c *Cluster) InstallCRDs(ctx context.Context, manifests ...[]byte) error {
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, m := range manifests {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(m), 4096)
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := dec.Decode(&crd); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("decode CRD manifest: %w", err)
			}
			if crd.Name == "" {
				continue
			}
			if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create CRD %s: %w", crd.Name, err)
			}
			names = append(names, crd.Name)
		}
	}
	return poll(ctx, time.Minute, func() (bool, string, error) {
		for _, name := range names {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if !established {
				return false, "CRD " + name + " not Established", nil
			}
		}
		return true, "", nil
	})
}

// poll calls check every 100 ms until it reports done, fails, or the timeout
// passes; the timeout error carries check's last explanation.
func poll(ctx context.Context, timeout time.Duration, check func() (done bool, why string, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, why, err := check()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
