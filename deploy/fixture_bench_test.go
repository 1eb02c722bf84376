package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/fixtures"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fixtureDir is the vibecode-platform repository as checked out on disk,
// where `helm` runs and where ferry's render reads it from too.
const fixtureDir = "../fixtures/vibecode-platform"

// fixtureEnv is one environment of the fixture's ferry.yaml.
func fixtureEnv(tb testing.TB, name string) (*config.Pipeline, *config.Environment) {
	tb.Helper()
	data, err := fs.ReadFile(fixtures.Repo(), fixtures.ConfigFile)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := config.Parse(fixtures.ConfigFile, data, config.Options{ValidateSet: ValidateSet, ValidateSetString: ValidateSetString})
	if err != nil {
		tb.Fatalf("parse the fixture's ferry.yaml: %v", err)
	}
	p := &c.Pipelines[0]
	e, err := p.Environment(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p, e
}

// helmArgsFor are the Helm CLI flags that mean the same as spec: the
// fixture's `helm install` command line (chart, -f, --namespace, --set).
func helmArgsFor(spec RenderSpec) []string {
	args := []string{spec.Release, spec.Chart, "--namespace", spec.Namespace}
	for _, f := range spec.ValuesFiles {
		args = append(args, "-f", f)
	}
	for _, s := range spec.Set {
		args = append(args, "--set", s)
	}
	for _, s := range spec.SetString {
		args = append(args, "--set-string", s)
	}
	return args
}

// runHelm runs the reference helm in the fixture repository with its
// configuration and cache in a fresh directory, as a first run on a CI
// machine would, against kubeconfig (none when empty).
func runHelm(tb testing.TB, kubeconfig string, args ...string) (string, error) {
	tb.Helper()
	cmd := exec.Command(helmBinary(tb), args...)
	cmd.Dir = fixtureDir
	home := tb.TempDir()
	if kubeconfig == "" {
		kubeconfig = filepath.Join(home, "no-kubeconfig")
	}
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+kubeconfig,
		"HELM_NAMESPACE=",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &helmError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// BenchmarkRenderFixtureDev renders the fixture's dev environment (its
// chart, values-dev.yaml and --set flags) in-process, as ferry does on
// every new revision, and in the same run with a `helm template` process
// of the same arguments, and reports both and the ratio. Issue 13's goal:
// ≤ 10 ms, ≥ 5× faster than helm template.
func BenchmarkRenderFixtureDev(b *testing.B) {
	p, e := fixtureEnv(b, "dev")
	spec := SpecFor(p, e)
	// The local cluster's version, as the fixture's tests render for: the
	// chart requires a newer Kubernetes than helm template's default.
	caps, err := OfflineCapabilities(localcluster.KubernetesVersion, nil)
	if err != nil {
		b.Fatal(err)
	}
	spec.Capabilities = caps
	// As the daemon renders: the chart's schema compiled once, kept.
	spec.Schemas = &SchemaCache{}
	src := os.DirFS(fixtureDir)
	helmArgs := append([]string{"template"}, helmArgsFor(spec)...)
	helmArgs = append(helmArgs, "--kube-version", localcluster.KubernetesVersion)

	// One run first, unmeasured, so that helm's binary is built and in the
	// page cache (go tool -n builds it on first use).
	want, err := runHelm(b, "", helmArgs...)
	if err != nil {
		b.Fatal(err)
	}
	// The render must be the one helm printed, or the comparison means nothing.
	r, err := Render(context.Background(), src, spec)
	if err != nil {
		b.Fatal(err)
	}
	if r.Manifest == "" || !bytes.Contains([]byte(want), []byte(firstDoc(r.Manifest))) {
		b.Fatalf("ferry's render of dev is not what helm template printed")
	}
	benchAgainstHelm(b, func() error {
		_, err := runHelm(b, "", helmArgs...)
		return err
	}, func() error {
		_, err := Render(context.Background(), src, spec)
		return err
	})
	b.ReportMetric(float64(len(r.Objects)), "objects")
}

// firstDoc is the first YAML document of a manifest that holds an object.
func firstDoc(manifest string) string {
	docs, err := splitRendered(manifest)
	if err != nil || len(docs) == 0 {
		return manifest
	}
	for _, d := range docs {
		if len(bytes.TrimSpace([]byte(d.content))) > 0 {
			return d.content
		}
	}
	return manifest
}

// BenchmarkApplyFixtureDev measures push → healthy for the fixture's dev
// environment on the local cluster: ferry's Render + Apply + WaitHealthy
// (production defaults: NewClient's QPS and poll interval), and in the same
// run, on the same cluster, the reference Helm CLI (built from the module
// pinned in go.mod) running `helm upgrade --install --wait` with the
// fixture's flags. Each side has a namespace of its own, made beforehand
// with the fixture's labels and the Secrets the chart refers to.
//
// The first install of each is timed once (install-s); every iteration is
// then one upgrade of each, a push that changes code-server's CPU request
// and so rolls its pods, the order alternating between iterations. The
// headline is the upgrade ratio ferry/helm (goal ≤ 1.2×).
func BenchmarkApplyFixtureDev(b *testing.B) {
	c := localcluster.Require(b, cluster)
	ctx := context.Background()
	p, e := fixtureEnv(b, "dev")
	cs, err := c.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	caps, err := DiscoverCapabilities(ctx, cs.Discovery())
	if err != nil {
		b.Fatal(err)
	}
	src := os.DirFS(fixtureDir)
	ferryNS := c.Namespace(b, e.NamespaceLabels)
	helmNS := c.Namespace(b, e.NamespaceLabels)
	for _, ns := range []string{ferryNS, helmNS} {
		for name, data := range map[string]map[string]string{
			"vibecode-db-credentials":     {"password": "not-a-real-password"},
			"vibecode-backup-credentials": {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
		} {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data}
			if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
				b.Fatalf("create Secret %s: %v", name, err)
			}
		}
	}
	client, err := NewClient(Target{
		Kubeconfig: c.Kubeconfig, Namespace: ferryNS, Release: e.Release,
		CreateNamespace: e.CreateNamespace, NamespaceLabels: e.NamespaceLabels, MaxHistory: e.MaxHistory,
	})
	if err != nil {
		b.Fatal(err)
	}
	timeout := e.Gates.Health.Timeout

	push := 0
	cpuSet := func(n int) string { return fmt.Sprintf("codeServer.resources.requests.cpu=%dm", 100+n) }
	ferryPush := func(n int) time.Duration {
		spec := SpecFor(p, e)
		spec.Namespace, spec.Capabilities = ferryNS, caps
		spec.Set = append(spec.Set, cpuSet(n))
		start := time.Now()
		r, err := Render(ctx, src, spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.Apply(ctx, ferry.Revision{SHA: fmt.Sprintf("%040x", n+1), Subject: fmt.Sprintf("bench push %d", n)}, r); err != nil {
			b.Fatalf("ferry apply: %v", err)
		}
		v, err := client.WaitHealthy(ctx, *r, timeout, nil)
		if err != nil {
			b.Fatal(err)
		}
		if v.Status != ferry.HealthHealthy {
			b.Fatalf("ferry: dev not healthy: %s", v.Reason)
		}
		return time.Since(start)
	}
	helmPush := func(n int) time.Duration {
		spec := SpecFor(p, e)
		spec.Namespace = helmNS
		spec.Set = append(spec.Set, cpuSet(n))
		args := append([]string{"upgrade", "--install"}, helmArgsFor(spec)...)
		if e.CreateNamespace {
			args = append(args, "--create-namespace")
		}
		args = append(args, "--wait", "--timeout", timeout.String())
		start := time.Now()
		if _, err := runHelm(b, c.Kubeconfig, args...); err != nil {
			b.Fatalf("helm upgrade --install --wait: %v", err)
		}
		return time.Since(start)
	}
	// helm's binary is built (go tool -n) before anything is timed.
	helmBinary(b)

	ferryInstall := ferryPush(push)
	helmInstall := helmPush(push)

	var ferryTotal, helmTotal time.Duration
	b.ResetTimer()
	for b.Loop() {
		push++
		if push%2 == 1 {
			ferryTotal += ferryPush(push)
			helmTotal += helmPush(push)
		} else {
			helmTotal += helmPush(push)
			ferryTotal += ferryPush(push)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(ferryTotal.Seconds()/n, "ferry-s/upgrade")
	b.ReportMetric(helmTotal.Seconds()/n, "helm-s/upgrade")
	b.ReportMetric(ferryTotal.Seconds()/helmTotal.Seconds(), "ferry/helm")
	b.ReportMetric(ferryInstall.Seconds(), "ferry-s/install")
	b.ReportMetric(helmInstall.Seconds(), "helm-s/install")
	b.ReportMetric(ferryInstall.Seconds()/helmInstall.Seconds(), "ferry/helm-install")
}
