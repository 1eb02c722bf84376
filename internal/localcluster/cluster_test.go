package localcluster_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

var shared *localcluster.Shared

func TestMain(m *testing.M) {
	os.Exit(localcluster.RunTests(m, localcluster.Options{}, &shared))
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	c, err := localcluster.Require(t, shared).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond every 100 ms for up to timeout and fails the test with
// cond's last explanation when it never holds.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func container(image string) corev1.Container {
	return corev1.Container{Name: "app", Image: image}
}

func createPod(t *testing.T, c kubernetes.Interface, ns, name string, labels, annotations map[string]string, spec corev1.PodSpec) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}, Spec: spec}
	if _, err := c.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
}

func getPod(t *testing.T, c kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestServerReportsPinnedVersion(t *testing.T) {
	c := clientset(t)
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != localcluster.KubernetesVersion || v.Major != "1" || v.Minor != "36" {
		t.Errorf("server version = %s (major %q minor %q), want %s", v.GitVersion, v.Major, v.Minor, localcluster.KubernetesVersion)
	}
}

func TestNodesHaveDefaultCapacity(t *testing.T) {
	c := clientset(t)
	nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("got %d nodes, want 3", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		alloc := n.Status.Allocatable
		if alloc.Cpu().Cmp(resource.MustParse("16")) != 0 || alloc.Memory().Cmp(resource.MustParse("64Gi")) != 0 || alloc.Pods().Value() != 250 {
			t.Errorf("node %s allocatable cpu=%s memory=%s pods=%s, want 16, 64Gi, 250", n.Name, alloc.Cpu(), alloc.Memory(), alloc.Pods())
		}
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	deploymentAvailable(t, c, ns, "web", 2)
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("got %d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if !slices.Contains(shared.NodeNames, p.Spec.NodeName) {
			t.Errorf("pod %s is on node %q, want one of %v", p.Name, p.Spec.NodeName, shared.NodeNames)
		}
		if p.Status.Phase != corev1.PodRunning || !podReady(&p) {
			t.Errorf("pod %s phase %s ready %v, want Running and Ready", p.Name, p.Status.Phase, podReady(&p))
		}
	}
}

// deploymentAvailable creates a Deployment and waits until all its replicas
// are ready and it reports Available.
func deploymentAvailable(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}},
			},
		},
	}
	ctx := context.Background()
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, func() (bool, string) {
		got, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		available := false
		for _, cond := range got.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
				available = true
			}
		}
		return available && got.Status.ReadyReplicas == replicas,
			fmt.Sprintf("deployment %s: %d/%d ready, available=%v", name, got.Status.ReadyReplicas, replicas, available)
	})
}

func TestPodTooBigStaysPendingUnschedulable(t *testing.T) {
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	app := container("nginx:1.27")
	app.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100")}
	createPod(t, c, ns, "huge", nil, nil, corev1.PodSpec{Containers: []corev1.Container{app}})
	waitFor(t, time.Minute, func() (bool, string) {
		p := getPod(t, c, ns, "huge")
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				if !strings.Contains(cond.Message, "3 Insufficient cpu") {
					t.Errorf("unschedulable message = %q, want it to name 3 Insufficient cpu", cond.Message)
				}
				return true, ""
			}
		}
		return false, fmt.Sprintf("pod phase %s conditions %v", p.Status.Phase, p.Status.Conditions)
	})
	if p := getPod(t, c, ns, "huge"); p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
		t.Errorf("pod phase %s on node %q, want Pending on no node", p.Status.Phase, p.Spec.NodeName)
	}
}

func TestPVCWaitsForFirstConsumerThenBinds(t *testing.T) {
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		class   string
		reclaim corev1.PersistentVolumeReclaimPolicy
	}{
		{"standard", corev1.PersistentVolumeReclaimDelete},
		{"premium-ssd-retained", corev1.PersistentVolumeReclaimRetain},
	} {
		claim := "data-" + tc.class
		class := tc.class
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: &class,
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
			},
		}
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// With no consumer, the claim must wait: the binding controller
		// records WaitForFirstConsumer and no volume is provisioned.
		waitFor(t, 30*time.Second, func() (bool, string) {
			events, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + claim})
			if err != nil {
				return false, err.Error()
			}
			for _, e := range events.Items {
				if e.Reason == "WaitForFirstConsumer" {
					return true, ""
				}
			}
			return false, "no WaitForFirstConsumer event yet"
		})
		got, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != corev1.ClaimPending || got.Spec.VolumeName != "" {
			t.Fatalf("claim %s before a consumer: phase %s volume %q, want Pending with no volume", claim, got.Status.Phase, got.Spec.VolumeName)
		}

		app := container("nginx:1.27")
		app.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		createPod(t, c, ns, "user-"+tc.class, nil, nil, corev1.PodSpec{
			Containers: []corev1.Container{app},
			Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		})
		waitFor(t, time.Minute, func() (bool, string) {
			got, err = c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return got.Status.Phase == corev1.ClaimBound, "claim phase " + string(got.Status.Phase)
		})
		if node := got.Annotations["volume.kubernetes.io/selected-node"]; !slices.Contains(shared.NodeNames, node) {
			t.Errorf("claim %s selected node %q, want a fake node", claim, node)
		}
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pv.Spec.PersistentVolumeReclaimPolicy != tc.reclaim || pv.Spec.Capacity.Storage().Cmp(resource.MustParse("2Gi")) != 0 {
			t.Errorf("volume of %s: reclaim %s capacity %s, want %s 2Gi", claim, pv.Spec.PersistentVolumeReclaimPolicy, pv.Spec.Capacity.Storage(), tc.reclaim)
		}
		waitFor(t, 30*time.Second, func() (bool, string) {
			p := getPod(t, c, ns, "user-"+tc.class)
			return podReady(p), "consumer pod not Ready"
		})
	}
}

func TestResourceQuotaRejectsSecondPod(t *testing.T) {
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	ctx := context.Background()
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "one-pod"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}},
	}
	if _, err := c.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Admission enforces a quota once its controller has computed status.hard.
	waitFor(t, 30*time.Second, func() (bool, string) {
		q, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, "one-pod", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(q.Status.Hard) > 0, "quota status not computed yet"
	})
	createPod(t, c, ns, "first", nil, nil, corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}}}
	_, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("second pod: err = %v, want Forbidden", err)
	}
	want := `pods "second" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err.Error(), want)
	}
}

func TestFailingWorkloadStages(t *testing.T) {
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	start := time.Now()
	createPod(t, c, ns, "unpullable", nil, nil, corev1.PodSpec{Containers: []corev1.Container{container("registry.example/app:1.2" + localcluster.MissingImageSuffix)}})
	createPod(t, c, ns, "crasher", map[string]string{localcluster.SimulateLabel: localcluster.SimulateCrashLoop}, nil,
		corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}})
	createPod(t, c, ns, "slowpoke", map[string]string{localcluster.SimulateLabel: localcluster.SimulateSlow},
		map[string]string{localcluster.ReadyAfterAnnotation: "4s"}, corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}})

	t.Run("slow pod is Running but not Ready, then Ready", func(t *testing.T) {
		waitFor(t, 30*time.Second, func() (bool, string) {
			p := getPod(t, c, ns, "slowpoke")
			return p.Status.Phase == corev1.PodRunning, "phase " + string(p.Status.Phase)
		})
		if p := getPod(t, c, ns, "slowpoke"); podReady(p) {
			t.Fatalf("slow pod Ready %s after creation, before its 4s delay", time.Since(start))
		}
		waitFor(t, 30*time.Second, func() (bool, string) {
			return podReady(getPod(t, c, ns, "slowpoke")), "slow pod not Ready yet"
		})
		p := getPod(t, c, ns, "slowpoke")
		var readyAt time.Time
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				readyAt = cond.LastTransitionTime.Time
			}
		}
		// Condition times have one-second resolution.
		if lag := readyAt.Sub(p.CreationTimestamp.Time); lag < 3*time.Second {
			t.Errorf("slow pod Ready %s after creation, want at least its 4s delay", lag)
		}
	})

	t.Run("crash-looping pod restarts with a rising count", func(t *testing.T) {
		var first int32
		waitFor(t, 30*time.Second, func() (bool, string) {
			p := getPod(t, c, ns, "crasher")
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false, "no waiting container status yet"
			}
			cs := p.Status.ContainerStatuses[0]
			first = cs.RestartCount
			return cs.State.Waiting.Reason == "CrashLoopBackOff" && !podReady(p), "state " + cs.State.Waiting.Reason
		})
		waitFor(t, 30*time.Second, func() (bool, string) {
			p := getPod(t, c, ns, "crasher")
			cs := p.Status.ContainerStatuses[0]
			return cs.RestartCount >= first+2 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && !podReady(p),
				fmt.Sprintf("restarts %d (first seen %d)", cs.RestartCount, first)
		})
	})

	t.Run("unpullable image stays in ImagePullBackOff", func(t *testing.T) {
		if wait := 10*time.Second - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		p := getPod(t, c, ns, "unpullable")
		if podReady(p) || p.Status.Phase != corev1.PodPending {
			t.Fatalf("pod phase %s ready %v after 10s, want Pending and not Ready", p.Status.Phase, podReady(p))
		}
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			t.Fatalf("container statuses %+v, want one waiting", p.Status.ContainerStatuses)
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		if w.Reason != "ImagePullBackOff" || !strings.Contains(w.Message, "registry.example/app:1.2-missing") {
			t.Errorf("waiting reason %q message %q, want ImagePullBackOff naming the image", w.Reason, w.Message)
		}
	})
}

// TestStaysReadyWhenIdle guards against the node lease problem: without a
// renewed Lease the node controller marks nodes Unknown after about 50 s and
// their pods unready for good. It idles three minutes, in parallel with the
// other tests so it adds no wall time.
func TestStaysReadyWhenIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("idles for three minutes")
	}
	t.Parallel()
	c := clientset(t)
	ns := shared.Namespace(t, nil)
	deploymentAvailable(t, c, ns, "idle", 2)
	time.Sleep(3 * time.Minute)
	ctx := context.Background()
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
				t.Errorf("node %s Ready=%s after 3 minutes idle (%s)", n.Name, cond.Status, cond.Message)
			}
		}
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, "idle", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 2 {
		t.Errorf("deployment has %d ready replicas after 3 minutes idle, want 2", d.Status.ReadyReplicas)
	}
}

func TestIdentityIsLimitedByRBAC(t *testing.T) {
	t.Parallel()
	admin := clientset(t)
	ns := shared.Namespace(t, nil)
	other := shared.Namespace(t, nil)
	ctx := context.Background()
	path, err := shared.Identity("alice", []string{"ferry-testers"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	alice := kubernetes.NewForConfigOrDie(cfg)

	_, err = alice.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "alice" cannot list resource "pods"`) {
		t.Fatalf("before any grant: err = %v, want Forbidden for alice", err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "testers-read-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "ferry-testers"}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPod(t, admin, ns, "visible", nil, nil, corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}})
	waitFor(t, 30*time.Second, func() (bool, string) {
		pods, err := alice.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 1 && pods.Items[0].Name == "visible", fmt.Sprintf("alice sees %d pods", len(pods.Items))
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nope"}, Spec: corev1.PodSpec{Containers: []corev1.Container{container("nginx:1.27")}}}
	if _, err := alice.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice creating a pod: err = %v, want Forbidden (the role only reads)", err)
	}
	if _, err := alice.CoreV1().Pods(other).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("alice listing pods in %s: err = %v, want Forbidden (granted only in %s)", other, err, ns)
	}
}

// TestStopAndRestartFromCache starts a second cluster of its own: Start must
// not rebuild the cached binaries, and Stop must leave no process, port or
// data behind.
func TestStopAndRestartFromCache(t *testing.T) {
	localcluster.Require(t, shared)
	binDir, err := localcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	logPath, err := localcluster.BuildLog()
	if err != nil {
		t.Fatal(err)
	}
	before := binaryMTimes(t, binDir)
	logBefore, _ := os.ReadFile(logPath)

	c, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	pids := c.PIDs()
	ports := []int{c.Ports.EtcdClient, c.Ports.EtcdPeer, c.Ports.APIServer, c.Ports.ControllerManager, c.Ports.Scheduler, c.Ports.Kwok}
	if len(pids) != 5 {
		t.Errorf("started %d processes, want 5", len(pids))
	}
	c.Stop()

	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	for _, port := range ports {
		if !localcluster.PortFree(port) {
			t.Errorf("port %d still in use after Stop", port)
		}
	}
	if _, err := os.Stat(c.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s still exists after Stop", c.DataDir)
	}
	if after := binaryMTimes(t, binDir); !maps.EqualFunc(before, after, time.Time.Equal) {
		t.Errorf("binaries changed by Start: before %v after %v", before, after)
	}
	if logAfter, _ := os.ReadFile(logPath); string(logAfter) != string(logBefore) {
		t.Errorf("build log grew during Start:\n%s", strings.TrimPrefix(string(logAfter), string(logBefore)))
	}
}

func binaryMTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = fi.ModTime()
	}
	return out
}
