package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/deploy"
)

// diffChart is a chart with a ConfigMap, a Secret and a Deployment whose
// requests the summary line adds up.
var diffChart = map[string]string{
	"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"chart/values.yaml": "greeting: hello\npassword: default-pass\nreplicas: 2\n",
	"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n" +
		"data:\n  greeting: {{ .Values.greeting | quote }}\n",
	"chart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-auth\n" +
		"stringData:\n  password: {{ .Values.password | quote }}\n",
	"chart/templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0
          resources: {requests: {cpu: 250m, memory: 64Mi}}
`,
	"values-dev.yaml": "greeting: hello dev\npassword: dev-pass-1\n",
}

// writeTree writes files under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runFerryProcess runs the ferry command line as its own process (this
// test binary running main) and returns stdout, stderr and the exit code.
func runFerryProcess(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMain+"=1", "XDG_CACHE_HOME="+t.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// ferry diff against a release on the local control plane: every object
// to add before the release exists (exit 2), nothing but the summary once
// the same render is applied (exit 0), exactly the changed fields with the
// Secret's values masked after a values change (exit 2), and exit 1 with
// the reason, never 2, when the environment is unknown or its cluster or
// work tree cannot be read.
func TestDiffCommand(t *testing.T) {
	c := needCluster(t)
	ns := c.Namespace(t, nil)
	kube, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "team"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU: resource.MustParse("2"), corev1.ResourceRequestsMemory: resource.MustParse("512Mi"),
		}},
	}
	if _, err := kube.CoreV1().ResourceQuotas(ns).Create(t.Context(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	writeTree(t, tree, diffChart)
	cfg := filepath.Join(t.TempDir(), "ferry.yaml")
	missingKubeconfig := filepath.Join(t.TempDir(), "missing.kubeconfig")
	writeTree(t, filepath.Dir(cfg), map[string]string{"ferry.yaml": fmt.Sprintf(`pipelines:
  - name: web
    source: {url: "https://git.example/web.git"}
    chart: chart
    environments:
      - {name: dev, kubeconfig: %[1]q, namespace: %[2]s, release: web-dev, values: [values-dev.yaml]}
      - {name: prod, from: dev, kubeconfig: %[3]q, namespace: %[2]s, release: web-prod}
`, c.Kubeconfig, ns, missingKubeconfig)})
	diff := func(args ...string) (string, string, int) {
		t.Helper()
		return runFerryProcess(t, append([]string{"diff", "-f", cfg, "--dir", tree}, args...)...)
	}
	const summary = "dev: pods=2, requests.cpu=0.5 (25 % of quota), requests.memory=134217728 (25 % of quota)\n"

	t.Run("nothing installed: every object is added, exit 2", func(t *testing.T) {
		out, errOut, code := diff("dev")
		want := "+ Secret/" + ns + "/web-dev-auth\n" +
			"+ ConfigMap/" + ns + "/web-dev-cfg\n" +
			"+ Deployment/" + ns + "/web-dev\n" + summary
		if code != 2 || out != want || errOut != "" {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2 and:\n%s", code, out, errOut, want)
		}
	})

	// Install exactly what ferry diff renders, as the daemon would.
	p, e, err := (&renderFlags{file: cfg}).target("dev")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := environmentCluster(e)
	if err != nil {
		t.Fatal(err)
	}
	spec := deploy.SpecFor(p, e)
	if spec.Capabilities, err = cl.Capabilities(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, err := deploy.Render(t.Context(), os.DirFS(tree), spec)
	if err != nil {
		t.Fatal(err)
	}
	client, err := deploy.NewClient(deploy.Target{Kubeconfig: c.Kubeconfig, Namespace: ns, Release: "web-dev"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Apply(t.Context(), ferry.Revision{SHA: strings.Repeat("1", 40), Subject: "first"}, r)
	if err != nil || res.Revision != 1 {
		t.Fatalf("apply = %+v, %v", res, err)
	}

	t.Run("the same render is live: only the summary, exit 0", func(t *testing.T) {
		out, errOut, code := diff("dev")
		if code != 0 || out != summary || errOut != "" {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and:\n%s", code, out, errOut, summary)
		}
	})

	writeTree(t, tree, map[string]string{"values-dev.yaml": "greeting: hello dev 2\npassword: dev-pass-2\nreplicas: 3\n"})
	t.Run("changed values: the changed fields, Secret values masked, exit 2", func(t *testing.T) {
		out, errOut, code := diff("dev")
		want := "~ Secret/" + ns + "/web-dev-auth\n" +
			"    ~ data.password: <masked> -> <masked>\n" +
			"~ ConfigMap/" + ns + "/web-dev-cfg\n" +
			"    ~ data.greeting: \"hello dev\" -> \"hello dev 2\"\n" +
			"~ Deployment/" + ns + "/web-dev\n" +
			"    ~ spec.replicas: 2 -> 3\n" +
			"dev: pods=3, requests.cpu=0.75 (38 % of quota), requests.memory=201326592 (38 % of quota)\n"
		if code != 2 || out != want || errOut != "" {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2 and:\n%s", code, out, errOut, want)
		}
		for _, secret := range []string{"dev-pass-1", "dev-pass-2"} {
			if strings.Contains(out+errOut, secret) {
				t.Errorf("ferry diff printed the Secret value %q", secret)
			}
		}
	})

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown environment", []string{"qa"}, `error: pipeline web has no environment "qa"; it has: dev, prod` + "\n"},
		{"unreadable cluster", []string{"prod"},
			"error: cluster of environment prod: kubeconfig: stat " + missingKubeconfig + ": no such file or directory\n"},
		{"missing work tree", []string{"dev", "--dir", filepath.Join(tree, "nope")},
			"error: --dir: stat " + filepath.Join(tree, "nope") + ": no such file or directory\n"},
	} {
		t.Run(tc.name+": exit 1 with the reason", func(t *testing.T) {
			out, errOut, code := runFerryProcess(t, append([]string{"diff", "-f", cfg, "--dir", tree}, tc.args...)...)
			if code != 1 || out != "" || errOut != tc.wantErr {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1, nothing on stdout and on stderr:\n%s", code, out, errOut, tc.wantErr)
			}
		})
	}
}
