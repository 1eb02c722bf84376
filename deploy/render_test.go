package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
)

// renderCase is one `helm template` invocation and the same render in ferry.
type renderCase struct {
	name        string
	chart       string
	release     string
	namespace   string
	files       []string
	set         []string
	setString   []string
	kubeVersion string
	apiVersions []string
}

// helmArgs are the `helm template` arguments that mean the same as the case.
func (c renderCase) helmArgs() []string {
	args := []string{c.release, c.chart, "--namespace", c.namespace}
	for _, f := range c.files {
		args = append(args, "-f", f)
	}
	for _, s := range c.set {
		args = append(args, "--set", s)
	}
	for _, s := range c.setString {
		args = append(args, "--set-string", s)
	}
	if c.kubeVersion != "" {
		args = append(args, "--kube-version", c.kubeVersion)
	}
	if len(c.apiVersions) > 0 {
		args = append(args, "--api-versions", strings.Join(c.apiVersions, ","))
	}
	return args
}

func (c renderCase) render(t testing.TB) (*ferry.Rendered, error) {
	t.Helper()
	caps, err := OfflineCapabilities(c.kubeVersion, c.apiVersions)
	if err != nil {
		t.Fatal(err)
	}
	return Render(context.Background(), os.DirFS(repoDir), RenderSpec{
		Chart: c.chart, ValuesFiles: c.files, Set: c.set, SetString: c.setString,
		Release: c.release, Namespace: c.namespace, Capabilities: caps,
	})
}

var parityCases = []renderCase{
	{name: "chart defaults", chart: "charts/app", release: "web", namespace: "shop"},
	{name: "dev with common file", chart: "charts/app", release: "web-dev", namespace: "shop-dev",
		files: []string{"envs/common.yaml", "envs/values-dev.yaml"}},
	{name: "staging on a cluster with ServiceMonitor", chart: "charts/app", release: "web-staging", namespace: "shop-staging",
		files: []string{"envs/common.yaml", "envs/values-staging.yaml"}, kubeVersion: "1.31.2",
		apiVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}},
	{name: "prod with set and set-string", chart: "charts/app", release: "web-prod", namespace: "shop-prod",
		files:     []string{"envs/common.yaml", "envs/values-prod.yaml"},
		set:       []string{`maxBodyBytes=1048576`, `annotations.note=x\,y,annotations.tier=gold`},
		setString: []string{"image.tag=2.0", "image.repository=registry.example.test/web-canary"}, kubeVersion: "v1.33.0"},
	{name: "null deletes chart and subchart defaults", chart: "charts/app", release: "web", namespace: "shop",
		files: []string{"envs/values-null.yaml"}},
	{name: "symlinked values file inside the repo", chart: "charts/app", release: "web", namespace: "shop",
		files: []string{"envs/link-in.yaml"}},
	{name: "install order hooks and notes", chart: "charts/order", release: "web", namespace: "shop"},
	{name: "bench chart", chart: "charts/bench", release: "bench", namespace: "bench"},
}

// Helm's output is the reference: the golden file holds what `go tool helm
// template` prints, and ferry must print the same bytes.
func TestRenderMatchesHelmTemplate(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			file := strings.ReplaceAll(c.name, " ", "-") + ".yaml"
			want, err := helmTemplate(t, c.helmArgs()...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, file, want)
			got, err := c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			if got.Manifest != want {
				t.Errorf("ferry's render differs from helm template:\n%s", firstLineDiff(want, got.Manifest))
			}
		})
	}
}

func TestLargeIntegersRenderAsHelmDoesAndWarn(t *testing.T) {
	tests := []struct {
		name      string
		c         renderCase
		lines     []string // manifest lines that must appear, exactly
		forbidden []string
		warnings  []string
	}{
		{
			name: "number from the chart's values.yaml prints as a float",
			c:    renderCase{chart: "charts/app", release: "web", namespace: "shop"},
			lines: []string{
				`  max-body-bytes: "1.048576e+06"`,
				`              value: "1.048576e+06"`,
				`              value: "1048576"`,
				`    maxBodyBytes: 1048576`,
			},
			warnings: []string{`charts/app/values.yaml:15: maxBodyBytes: 1048576 renders as 1.048576e+06 (Helm reads numbers in values files as floats); pipe it through | int in the template or quote the number in the values file`},
		},
		{
			name: "number from an environment file is blamed on that file and line",
			c:    renderCase{chart: "charts/app", release: "web", namespace: "shop", files: []string{"envs/common.yaml", "envs/values-staging.yaml"}},
			lines: []string{
				`  max-body-bytes: "2.097152e+06"`,
				`              value: "2097152"`,
				`    maxBodyBytes: 2097152`,
			},
			warnings: []string{`envs/values-staging.yaml:14: maxBodyBytes: 2097152 renders as 2.097152e+06 (Helm reads numbers in values files as floats); pipe it through | int in the template or quote the number in the values file`},
		},
		{
			name:      "the same number from --set stays an integer and needs no warning",
			c:         renderCase{chart: "charts/app", release: "web", namespace: "shop", set: []string{"maxBodyBytes=1048576"}},
			lines:     []string{`  max-body-bytes: "1048576"`, `              value: "1048576"`, `    maxBodyBytes: 1048576`},
			forbidden: []string{"e+06"},
		},
		{
			name:      "a quoted number in a values file is a string",
			c:         renderCase{chart: "charts/app", release: "web", namespace: "shop", files: []string{"envs/values-bigint-quoted.yaml"}},
			lines:     []string{`  max-body-bytes: "1048576"`, `    maxBodyBytes: "1048576"`},
			forbidden: []string{"e+06"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(r.Manifest, "\n")
			for _, want := range tt.lines {
				if !contains(lines, want) {
					t.Errorf("manifest has no line %q", want)
				}
			}
			for _, bad := range tt.forbidden {
				if strings.Contains(r.Manifest, bad) {
					t.Errorf("manifest contains %q", bad)
				}
			}
			var got []string
			for _, w := range r.Warnings {
				got = append(got, w.String())
			}
			if !reflect.DeepEqual(got, tt.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warnings)
			}
		})
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestSetWithEscapedCommaIsOneValue(t *testing.T) {
	r, err := renderCase{chart: "charts/app", release: "web", namespace: "shop",
		set: []string{`annotations.note=x\,y,annotations.tier=gold`}}.render(t)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"note": "x,y", "tier": "gold"}
	if got := r.Values["annotations"]; !reflect.DeepEqual(got, want) {
		t.Errorf("user values annotations = %#v, want %#v", got, want)
	}
	for _, line := range []string{"    note: x,y", "    tier: gold", "    team: web"} {
		if !contains(strings.Split(r.Manifest, "\n"), line) {
			t.Errorf("manifest has no line %q", line)
		}
	}
}

func TestNullDeletesChartAndSubchartDefaults(t *testing.T) {
	r, err := renderCase{chart: "charts/app", release: "web", namespace: "shop",
		files: []string{"envs/values-null.yaml"}}.render(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"FEATURE_LEGACYEXPORT", "legacyExport", "evictionPolicy"} {
		if strings.Contains(r.Manifest, gone) {
			t.Errorf("manifest still contains %q", gone)
		}
	}
	for _, kept := range []string{"            - name: FEATURE_SEARCH", `  maxMemory: "64mb"`} {
		if !contains(strings.Split(r.Manifest, "\n"), kept) {
			t.Errorf("manifest lost %q", kept)
		}
	}
	// The nulls stay in the user values, as Helm records them with the release.
	flags := r.Values["featureFlags"].(map[string]any)
	if v, ok := flags["legacyExport"]; !ok || v != nil {
		t.Errorf("user values featureFlags.legacyExport = %v (present %v), want a kept null", v, ok)
	}
	cache := r.Values["cache"].(map[string]any)
	if v, ok := cache["evictionPolicy"]; !ok || v != nil {
		t.Errorf("user values cache.evictionPolicy = %v (present %v), want a kept null", v, ok)
	}
}

func TestPathsLeavingTheRepoAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		chart string
		files []string
		want  string
	}{
		{"climbing values path", "charts/app", []string{"envs/common.yaml", "../../etc/passwd"},
			`values file: "../../etc/passwd" climbs with "..": path leaves the repository`},
		{"absolute values path", "charts/app", []string{"/etc/passwd"},
			`values file: "/etc/passwd" is absolute: path leaves the repository`},
		{"values symlink to outside", "charts/app", []string{"envs/link-out.yaml"},
			`values file: envs/link-out.yaml: a symbolic link leads above the repository root: path leaves the repository`},
		{"climbing chart path", "charts/../../outside", nil,
			`chart: "charts/../../outside" climbs with "..": path leaves the repository`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := renderCase{chart: tt.chart, files: tt.files, release: "web", namespace: "shop"}.render(t)
			if r != nil {
				t.Errorf("got a render, want none")
			}
			if !errors.Is(err, ErrPathOutsideRepo) {
				t.Fatalf("error %v does not wrap ErrPathOutsideRepo", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "leaked-from-outside") {
				t.Errorf("error shows the refused file's content")
			}
		})
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name string
		c    renderCase
		want string
	}{
		{"YAML error in a values file", renderCase{chart: "charts/app", files: []string{"envs/values-broken.yaml"}},
			"envs/values-broken.yaml:15: could not find expected ':'"},
		{"template error", renderCase{chart: "charts/broken"},
			`render charts/broken: template: broken/templates/bad.yaml:6:18: executing "broken/templates/bad.yaml" at <.Values.database.host>: nil pointer evaluating interface {}.host`},
		{"schema error names the key path", renderCase{chart: "charts/app", files: []string{"envs/values-schema-bad.yaml"}},
			"render charts/app: values don't meet the specifications of the schema(s) in the following chart(s):\napp:\n- at '/replicas': got string, want integer\n"},
		{"object without kind", renderCase{chart: "charts/nokind"},
			`render charts/nokind: nokind/templates/nokind.yaml renders an object without kind (name "web-nokind")`},
		{"annotations that are not a mapping", renderCase{chart: "charts/badhead"},
			"render charts/badhead: YAML parse error on badhead/templates/job.yaml: metadata.annotations must be a mapping"},
		{"bad --set", renderCase{chart: "charts/app", set: []string{"a.b"}},
			`--set "a.b": key "b" has no value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.release, tt.c.namespace = "web", "shop"
			_, err := tt.c.render(t)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestRenderDescribesTheRelease(t *testing.T) {
	r, err := renderCase{chart: "charts/app", release: "web-prod", namespace: "shop-prod",
		files: []string{"envs/values-prod.yaml"}, kubeVersion: "1.33.0"}.render(t)
	if err != nil {
		t.Fatal(err)
	}
	var objects, hooks []string
	for _, o := range r.Objects {
		objects = append(objects, o.String()+" "+o.Template)
	}
	for _, o := range r.Hooks {
		hooks = append(hooks, o.String()+" "+o.Template)
	}
	wantObjects := []string{
		"Secret/web-prod-app-db app/templates/secret.yaml",
		"ConfigMap/web-prod-cache app/charts/cache/templates/configmap.yaml",
		"ConfigMap/web-prod-app-config app/templates/configmap.yaml",
		"PersistentVolumeClaim/web-prod-app-data app/templates/pvc.yaml",
		"Service/web-prod-app app/templates/service.yaml",
		"Deployment/shop-prod/web-prod-app app/templates/deployment.yaml",
		"HorizontalPodAutoscaler/web-prod-app app/templates/hpa.yaml",
	}
	if !reflect.DeepEqual(objects, wantObjects) {
		t.Errorf("objects in install order:\n got %q\nwant %q", objects, wantObjects)
	}
	if want := []string{"Job/web-prod-app-smoke app/templates/migrate-job.yaml"}; !reflect.DeepEqual(hooks, want) {
		t.Errorf("hooks = %q, want %q", hooks, want)
	}
	if want := "web-prod-app runs 4 replicas in shop-prod.\n"; r.Notes != want {
		t.Errorf("notes = %q, want %q", r.Notes, want)
	}
	if r.KubeVersion != "v1.33.0" {
		t.Errorf("kube version = %q", r.KubeVersion)
	}
	if !strings.Contains(r.Manifest, `args: ["smoke", "--kube=v1.33.0"]`) {
		t.Errorf("hook did not see the kube version")
	}
}

// The order chart holds the shapes that decide Helm's install order: kinds
// Helm knows and does not know, a document of comments only, partials, a
// subchart, hooks with known, unknown and oddly written events, and a block
// scalar that ends a document.
func TestRenderSortsAndSplitsAsHelm(t *testing.T) {
	r, err := renderCase{chart: "charts/order", release: "web", namespace: "shop"}.render(t)
	if err != nil {
		t.Fatal(err)
	}
	var objects, hooks []string
	for _, o := range r.Objects {
		objects = append(objects, o.String())
	}
	for _, o := range r.Hooks {
		hooks = append(hooks, o.String())
	}
	wantObjects := []string{"Namespace/web-extra", "ServiceAccount/web-web", "ConfigMap/web-script", "Role/web-sub",
		"Service/web-web", "Deployment/web-web", "Alpha/web-alpha", "Widget/web-widget"}
	if !reflect.DeepEqual(objects, wantObjects) {
		t.Errorf("objects:\n got %q\nwant %q", objects, wantObjects)
	}
	// pre-banana is no event Helm knows: Helm drops the document.
	if want := []string{"ConfigMap/web-before", "Pod/web-test", "Job/web-migrate"}; !reflect.DeepEqual(hooks, want) {
		t.Errorf("hooks = %q, want %q", hooks, want)
	}
	if strings.Contains(r.Manifest, "banana") || strings.Contains(r.Manifest, "never-rendered") {
		t.Errorf("manifest keeps a document Helm drops:\n%s", r.Manifest)
	}
	if want := "web says hello.\n"; r.Notes != want {
		t.Errorf("notes = %q, want %q (the subchart's are left out)", r.Notes, want)
	}
	for _, o := range r.Objects {
		if o.Name == "web-script" {
			data, _ := o.Content["data"].(map[string]any)
			if got := data["run.sh"]; got != "echo hello\n" {
				t.Errorf("block scalar ending a document = %q, want the line break the API server receives", got)
			}
		}
	}
}

// A render with a SchemaCache validates exactly as Helm does: the same
// verdict and the same message, for the chart and a subchart, and a schema
// that refers to another document is left to Helm.
func TestSchemaCacheValidatesAsHelm(t *testing.T) {
	cache := &SchemaCache{}
	tests := []struct {
		name  string
		c     renderCase
		valid bool
	}{
		{"valid values", renderCase{chart: "charts/app"}, true},
		{"a string where the schema wants an integer", renderCase{chart: "charts/app", files: []string{"envs/values-schema-bad.yaml"}}, false},
		{"a required key deleted", renderCase{chart: "charts/app", set: []string{"image.tag=null"}}, false},
		{"subchart values that are not a map", renderCase{chart: "charts/app", set: []string{"cache=5"}}, false},
		{"a schema referring to another document", renderCase{chart: "charts/schemaref"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.release, tt.c.namespace = "web", "shop"
			_, helmErr := tt.c.render(t)
			caps, err := OfflineCapabilities("", nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // compiled, then from the cache
				_, err := Render(context.Background(), os.DirFS(repoDir), RenderSpec{
					Chart: tt.c.chart, ValuesFiles: tt.c.files, Set: tt.c.set,
					Release: tt.c.release, Namespace: tt.c.namespace, Capabilities: caps, Schemas: cache,
				})
				if (err == nil) != tt.valid || (helmErr == nil) != tt.valid {
					t.Fatalf("valid = %v; errors: with the cache %v, Helm's %v", tt.valid, err, helmErr)
				}
				if err != nil && err.Error() != helmErr.Error() {
					t.Errorf("message with the cache:\n%s\nHelm's:\n%s", err, helmErr)
				}
			}
		})
	}
	// app's schema is compiled once; schemaref's is remembered as one to
	// leave to Helm.
	compiled, leftToHelm := 0, 0
	for _, sch := range cache.compiled {
		if sch == nil {
			leftToHelm++
		} else {
			compiled++
		}
	}
	if compiled != 1 || leftToHelm != 1 {
		t.Errorf("schemas cached: %d compiled, %d left to Helm; want 1 and 1", compiled, leftToHelm)
	}
}

// A daemon rendering revision after revision of a chart whose schema keeps
// changing holds at most maxSchemas compiled, and still validates.
func TestSchemaCacheIsBounded(t *testing.T) {
	cache := &SchemaCache{}
	for i := range maxSchemas + 10 {
		schema := fmt.Sprintf(`{"type": "object", "properties": {"replicas": {"type": "integer", "maximum": %d}}}`, i)
		if err := cache.validateOne([]byte(schema), map[string]any{"replicas": i + 1}); err == nil {
			t.Fatalf("schema %d: replicas %d over the maximum passed", i, i+1)
		}
		if err := cache.validateOne([]byte(schema), map[string]any{"replicas": i}); err != nil {
			t.Fatalf("schema %d: replicas %d: %v", i, i, err)
		}
	}
	if len(cache.compiled) > maxSchemas {
		t.Errorf("cache holds %d schemas, over %d", len(cache.compiled), maxSchemas)
	}
}

// A chart's kubeVersion range is checked as Helm checks it: after the
// values, with Helm's message, so a cluster too old is told in Helm's words
// and bad values are reported first.
func TestKubeVersionRangeAsHelm(t *testing.T) {
	tests := []struct {
		name string
		c    renderCase
		want string // in both errors; "" renders
	}{
		{"cluster too old", renderCase{kubeVersion: "v1.33.0"},
			"chart requires kubeVersion: >=1.34.0-0 which is incompatible with Kubernetes v1.33.0"},
		{"bad values on a cluster too old", renderCase{kubeVersion: "v1.33.0", set: []string{"replicas=many"}},
			"at '/replicas': got string, want integer"},
		{"cluster new enough", renderCase{kubeVersion: "v1.36.3"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.chart, tt.c.release, tt.c.namespace = "charts/kubever", "web", "shop"
			_, err := tt.c.render(t)
			_, helmErr := helmTemplate(t, tt.c.helmArgs()...)
			if tt.want == "" {
				if err != nil || helmErr != nil {
					t.Fatalf("errors: ferry %v, Helm %v; want none", err, helmErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ferry's error = %v, want it to say %q", err, tt.want)
			}
			if helmErr == nil || !strings.Contains(helmErr.Error(), tt.want) {
				t.Errorf("Helm's error = %v, want it to say %q", helmErr, tt.want)
			}
		})
	}
}
