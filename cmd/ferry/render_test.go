package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runFerry executes the command line in-process with stdout and stderr apart.
func runFerry(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// helmTemplate runs the reference helm pinned in go.mod in dir.
func helmTemplate(t *testing.T, dir string, args ...string) string {
	t.Helper()
	path, err := exec.Command("go", "tool", "-n", "helm").Output()
	if err != nil {
		t.Fatalf("go tool -n helm: %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(path)), append([]string{"template"}, args...)...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home,
		"KUBECONFIG="+filepath.Join(home, "none"), "HELM_NAMESPACE=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return string(out)
}

const renderRepo = "../../deploy/testdata/repo"

func TestRenderCommand(t *testing.T) {
	cfg := "testdata/render/ferry.yaml"
	t.Run("prints what helm template prints, warnings on stderr", func(t *testing.T) {
		out, errOut, err := runFerry("render", "-f", cfg, "staging", "--dir", renderRepo, "--kube-version", "1.32.0")
		if err != nil {
			t.Fatal(err)
		}
		want := helmTemplate(t, renderRepo, "web-staging", "charts/app", "-n", "shop-staging",
			"-f", "envs/common.yaml", "-f", "envs/values-staging.yaml", "--set", `annotations.note=x\,y`, "--kube-version", "1.32.0")
		if out != want {
			t.Errorf("ferry render differs from helm template (%d vs %d bytes)", len(out), len(want))
		}
		wantErr := "warning: envs/values-staging.yaml:14: maxBodyBytes: 2097152 renders as 2.097152e+06 " +
			"(Helm reads numbers in values files as floats); pipe it through | int in the template or quote the number in the values file\n"
		if errOut != wantErr {
			t.Errorf("stderr:\n got %q\nwant %q", errOut, wantErr)
		}
	})
	t.Run("a values file linking out of the repo is refused and nothing printed", func(t *testing.T) {
		out, _, err := runFerry("render", "-f", cfg, "escape", "--dir", renderRepo)
		want := "values file: envs/link-out.yaml: a symbolic link leads above the repository root: path leaves the repository"
		if err == nil || err.Error() != want {
			t.Errorf("error = %v, want %s", err, want)
		}
		if out != "" {
			t.Errorf("printed %q", out)
		}
	})
	t.Run("an unknown environment names the ones there are", func(t *testing.T) {
		_, _, err := runFerry("render", "-f", cfg, "prod", "--dir", renderRepo)
		want := `pipeline shop has no environment "prod"; it has: staging, escape`
		var exit exitError
		if err == nil || err.Error() != want || errors.As(err, &exit) {
			t.Errorf("error = %v, want %s", err, want)
		}
	})
}
