package deploy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
)

// liveObjects reads objects as the API server returns them; whole numbers
// become int64, as in client-go's unstructured objects.
func liveObjects(t *testing.T, file string) []ferry.Object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifestObjects(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs {
		objs[i].Content = asUnstructured(objs[i].Content).(map[string]any)
	}
	return objs
}

func asUnstructured(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = asUnstructured(e)
		}
	case []any:
		for i, e := range t {
			t[i] = asUnstructured(e)
		}
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}

func findObject(objs []ferry.Object, kind string) map[string]any {
	for _, o := range objs {
		if o.Kind == kind {
			return o.Content
		}
	}
	return nil
}

func TestDiffAgainstLiveObjects(t *testing.T) {
	staging := renderCase{chart: "charts/app", release: "web", namespace: "shop", kubeVersion: "1.31.2",
		files: []string{"envs/common.yaml", "envs/values-staging.yaml"}, set: []string{"storage.size=1.6Ti"}}
	tests := []struct {
		name   string
		c      renderCase
		mutate func(live []ferry.Object) []ferry.Object
		want   string
	}{
		{
			name: "quantities the API server normalised (4000m as 4, 1.6Ti in milli) are no change",
			c:    staging,
			want: "",
		},
		{
			name: "changed Secret data shows as changed with both values masked",
			c:    staging,
			mutate: func(live []ferry.Object) []ferry.Object {
				findObject(live, "Secret")["data"] = map[string]any{"password": "b2xkLXBhc3N3b3Jk", "user": "YWRtaW4="}
				return live
			},
			want: "~ Secret/shop/web-app-db\n    ~ data.password: <masked> -> <masked>\n",
		},
		{
			name: "a Secret key the render adds is masked too",
			c:    staging,
			mutate: func(live []ferry.Object) []ferry.Object {
				findObject(live, "Secret")["data"] = map[string]any{}
				return live
			},
			want: "~ Secret/shop/web-app-db\n    + data.password: <masked>\n",
		},
		{
			name: "a real quantity change and an image change",
			c:    staging,
			mutate: func(live []ferry.Object) []ferry.Object {
				c := findObject(live, "Deployment")["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
				c["image"] = "registry.example.test/web:1.4.2"
				c["resources"].(map[string]any)["limits"].(map[string]any)["memory"] = "1073741823"
				return live
			},
			want: "~ Deployment/shop/web-app\n" +
				"    ~ spec.template.spec.containers[0].image: \"registry.example.test/web:1.4.2\" -> \"registry.example.test/web:1.5.0\"\n" +
				"    ~ spec.template.spec.containers[0].resources.limits.memory: \"1073741823\" -> \"1Gi\"\n",
		},
		{
			name: "objects only in the render are added, only live are removed",
			c:    staging,
			mutate: func(live []ferry.Object) []ferry.Object {
				var out []ferry.Object
				for _, o := range live {
					if o.Kind != "Service" {
						out = append(out, o)
					}
				}
				return append(out, ferry.Object{
					ObjectRef: ferry.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-old"},
					Content:   map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "web-old", "namespace": "shop"}},
				})
			},
			want: "+ Service/shop/web-app\n- ConfigMap/shop/web-old\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			live := liveObjects(t, "testdata/diff/live-staging.yaml")
			if tt.mutate != nil {
				live = tt.mutate(live)
			}
			d := Diff(live, r)
			if got := d.String(); got != tt.want {
				t.Errorf("diff:\n got %q\nwant %q", got, tt.want)
			}
			if d.Empty() != (tt.want == "") {
				t.Errorf("Empty() = %v", d.Empty())
			}
			if strings.Contains(d.String(), "s3cret") || strings.Contains(d.String(), "czNjcmV0") {
				t.Errorf("diff shows Secret data")
			}
		})
	}
}

// Chat shows what a revision changes against the one an environment runs by
// comparing the two renders: a rotated Secret is named with its value
// masked on both sides, a key the new render drops is a removal (applying
// removes it), and a replica change is shown as it is.
func TestDiffRendersMasksSecrets(t *testing.T) {
	render := func(password string, replicas int, oldKey bool) *ferry.Rendered {
		extra := ""
		if oldKey {
			extra = "\n  old: key"
		}
		objs, err := manifestObjects(`# Source: web/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: web-db
stringData:
  password: ` + password + extra + `
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ` + fmt.Sprint(replicas) + `
---
# Source: web/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: web-reader
rules: []
`)
		if err != nil {
			t.Fatal(err)
		}
		return &ferry.Rendered{Release: "web", Namespace: "shop", Objects: objs}
	}
	got := DiffRenders(render("old-pa55word", 2, true), render("new-pa55word", 3, false)).String()
	want := "~ Secret/web-db\n    ~ data.password: <masked> -> <masked>\n    - data.old: <masked>\n" +
		"~ Deployment/web\n    ~ spec.replicas: 2 -> 3\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if same := DiffRenders(render("p", 2, true), render("p", 2, true)); !same.Empty() {
		t.Errorf("identical renders differ:\n%s", same)
	}
}
