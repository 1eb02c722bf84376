package badinput

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
	"github.com/ferry-gitops/ferry/reconciler"
)

// TestFerryRunsWithLeastPrivilege runs the daemon as a non-admin user bound
// by the roles ferry ships in rbac/ (state in one namespace, releases in the
// namespaces bound for it): dev, in a bound namespace, deploys and turns
// healthy, so the roles are enough; prod, in a namespace nobody bound,
// fails with the API server's refusal and nothing of it is created there.
func TestFerryRunsWithLeastPrivilege(t *testing.T) {
	ctx := t.Context()
	admin, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	stateNS, managed, unmanaged := cluster.Namespace(t, nil), cluster.Namespace(t, nil), cluster.Namespace(t, nil)
	user := "ferry-" + stateNS
	grantShippedRoles(t, admin, user, stateNS, managed)
	kubeconfig, err := cluster.Identity(user, nil)
	if err != nil {
		t.Fatal(err)
	}

	srv, err := gitserver.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	repo, err := srv.CreateRepo("least")
	if err != nil {
		t.Fatal(err)
	}
	var files []gitserver.CommitOption
	for name, text := range chart(knownSecrets) {
		files = append(files, gitserver.WithFile(name, text))
	}
	sha, err := repo.Commit("base", files...)
	if err != nil {
		t.Fatal(err)
	}

	text := fmt.Sprintf(`pipelines:
  - name: least
    source: {url: %q, branch: main, interval: 200ms}
    chart: chart
    environments:
      - {name: dev, kubeconfig: %q, namespace: %s, release: least-dev, values: [values-dev.yaml], gates: {health: {timeout: 20s}}}
      - {name: prod, from: dev, kubeconfig: %q, namespace: %s, release: least-prod, values: [values-prod.yaml], gates: {health: {timeout: 20s}}}
state: {namespace: %s, kubeconfig: %q, leaseName: ferry-leader}
timing:
  resync: 1s
  leaderElection: {leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 250ms}
`, repo.Dir(), kubeconfig, managed, kubeconfig, unmanaged, stateNS, kubeconfig)
	cfg, err := config.Parse("ferry.yaml", []byte(text), helmOptions)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	d, err := reconciler.New(ctx, reconciler.Options{
		Config: cfg, Client: client, Targets: reconciler.DeployTargets(), Console: io.Discard,
		DataDir: t.TempDir(), Identity: "ferry-least", Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	ended := func(env string) ferry.Promotion {
		var got ferry.Promotion
		eventually(t, 90*time.Second, env+" to end its promotion of "+short(sha), func() (bool, string) {
			h, err := d.History(ctx, "least", env, 0)
			if err != nil {
				return false, err.Error()
			}
			for _, p := range h {
				if p.Revision.SHA == sha {
					got = p
					return p.Phase.IsTerminal(), fmt.Sprintf("%s: %s", p.Phase, p.Reason)
				}
			}
			return false, "no promotion yet; log:\n" + logs.String()
		})
		return got
	}
	if p := ended("dev"); p.Phase != ferry.PhaseSucceeded || p.HelmRevision != 1 {
		t.Fatalf("dev, in a namespace the roles bind: %s (Helm revision %d): %s", p.Phase, p.HelmRevision, p.Reason)
	}
	p := ended("prod")
	t.Logf("prod, outside the roles: %s: %s", p.Phase, p.Reason)
	if p.Phase != ferry.PhaseFailed {
		t.Errorf("prod, in a namespace nobody bound, ended %s: %s; want Failed", p.Phase, p.Reason)
	}
	wantRefusal := fmt.Sprintf("User %q cannot", user)
	if !strings.Contains(p.Reason, wantRefusal) || !strings.Contains(p.Reason, fmt.Sprintf("in the namespace %q", unmanaged)) {
		t.Errorf("prod's reason = %q; want the API server's refusal of %s in %s", p.Reason, user, unmanaged)
	}

	cms, err := admin.CoreV1().ConfigMaps(unmanaged).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := admin.CoreV1().Secrets(unmanaged).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, c := range cms.Items {
		if c.Name != "kube-root-ca.crt" {
			made = append(made, "ConfigMap/"+c.Name)
		}
	}
	for _, s := range secrets.Items {
		made = append(made, "Secret/"+s.Name)
	}
	if len(made) > 0 {
		t.Errorf("ferry made %v in %s, a namespace it does not manage", made, unmanaged)
	}
	live, err := admin.CoreV1().ConfigMaps(managed).Get(ctx, "least-dev-cfg", metav1.GetOptions{})
	if err != nil || live.Data["greeting"] != "hello dev" {
		t.Errorf("dev's ConfigMap in %s: %v %v; want greeting \"hello dev\"", managed, live.Data, err)
	}
}

// grantShippedRoles creates the roles of rbac/*.yaml for user: its
// ClusterRoles and ClusterRoleBinding (named apart for this test), the state
// Role and RoleBinding in stateNS and the release RoleBinding in releaseNS.
// The shipped ServiceAccount subject becomes user, a client-certificate
// identity of the local cluster.
func grantShippedRoles(t *testing.T, admin kubernetes.Interface, user, stateNS, releaseNS string) {
	t.Helper()
	ctx := t.Context()
	suffix := "-" + stateNS
	subject := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}
	files, err := filepath.Glob("../../rbac/*.yaml")
	if err != nil || len(files) != 3 {
		t.Fatalf("rbac/*.yaml: %v %v; want cluster.yaml, release.yaml and state.yaml", files, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var head metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			switch head.Kind {
			case "ServiceAccount":
				// The test's user stands in for ferry's service account.
			case "ClusterRole":
				var o rbacv1.ClusterRole
				mustUnmarshal(t, doc, &o)
				o.Name += suffix
				_, err = admin.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
				t.Cleanup(func() { _ = admin.RbacV1().ClusterRoles().Delete(context.Background(), o.Name, metav1.DeleteOptions{}) })
			case "ClusterRoleBinding":
				var o rbacv1.ClusterRoleBinding
				mustUnmarshal(t, doc, &o)
				o.Name += suffix
				o.RoleRef.Name += suffix
				o.Subjects = subject
				_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
				t.Cleanup(func() {
					_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), o.Name, metav1.DeleteOptions{})
				})
			case "Role":
				var o rbacv1.Role
				mustUnmarshal(t, doc, &o)
				o.Namespace = stateNS
				_, err = admin.RbacV1().Roles(stateNS).Create(ctx, &o, metav1.CreateOptions{})
			case "RoleBinding":
				var o rbacv1.RoleBinding
				mustUnmarshal(t, doc, &o)
				o.Subjects = subject
				if o.RoleRef.Kind == "ClusterRole" {
					o.RoleRef.Name += suffix
					o.Namespace = releaseNS
				} else {
					o.Namespace = stateNS
				}
				_, err = admin.RbacV1().RoleBindings(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			default:
				t.Fatalf("%s: unexpected kind %q", file, head.Kind)
			}
			if err != nil {
				t.Fatalf("%s: create %s: %v", file, head.Kind, err)
			}
		}
	}
}

func mustUnmarshal(t *testing.T, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatal(err)
	}
}
