package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
)

// Every render of the parity table, the chart with a subchart, hooks, NOTES
// and a Secret included, goes through the chart ferry hands Helm and comes
// back byte for byte: what Apply applies is what Render rendered.
func TestManifestChartRendersBackTheRender(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			chrt, err := manifestChart(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkManifestChart(context.Background(), chrt, r); err != nil {
				t.Fatal(err)
			}
			wantName := strings.TrimPrefix(c.chart, "charts/")
			if chrt.Metadata.Name != wantName {
				t.Errorf("chart name = %q, want %q", chrt.Metadata.Name, wantName)
			}
		})
	}
}

// The bench chart labels its objects helm.sh/chart: bench-1.0.0 and
// app.kubernetes.io/version: "2.0.0", which name the recorded chart; the app
// chart sets no helm.sh/chart label, so its version is unknown.
func TestManifestChartVersionFromLabels(t *testing.T) {
	tests := []struct {
		c                   renderCase
		version, appVersion string
	}{
		{parityCases[len(parityCases)-1], "1.0.0", "2.0.0"},
		{parityCases[0], "0.0.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			r, err := tt.c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			chrt, err := manifestChart(r)
			if err != nil {
				t.Fatal(err)
			}
			if chrt.Metadata.Version != tt.version || chrt.Metadata.AppVersion != tt.appVersion {
				t.Errorf("version, appVersion = %q, %q; want %q, %q", chrt.Metadata.Version, chrt.Metadata.AppVersion, tt.version, tt.appVersion)
			}
		})
	}
}

func TestManifestChartRefusesWhatItCannotReproduce(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     string
		mismatch bool
	}{
		{"no separator", "# Source: a/templates/x.yaml\nkind: ConfigMap\n", "rendered manifest does not start with a document separator", false},
		{"no source header", "---\nkind: ConfigMap\n", `rendered manifest document 1 has no "# Source:" header`, false},
		{"source outside a chart", "---\n# Source: x.yaml\nkind: ConfigMap\n", `rendered manifest: source "x.yaml" is not inside a chart`, false},
		{"two charts", "---\n# Source: a/templates/x.yaml\nkind: ConfigMap\n---\n# Source: b/templates/y.yaml\nkind: Secret\n",
			`rendered manifest: sources from two charts, "a" and "b"`, false},
		{"not in Helm's order", "---\n# Source: a/templates/x.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\n# Source: a/templates/y.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
			"applied manifest would differ from the render: Helm would apply a manifest of 174 bytes that differs from the 174 rendered ones at byte 26", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &ferry.Rendered{Release: "r", Namespace: "n", Manifest: tt.manifest}
			chrt, err := manifestChart(r)
			if err == nil {
				err = checkManifestChart(context.Background(), chrt, r)
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %s", err, tt.want)
			}
			if errors.Is(err, ErrManifestMismatch) != tt.mismatch {
				t.Errorf("errors.Is(err, ErrManifestMismatch) = %v, want %v", !tt.mismatch, tt.mismatch)
			}
		})
	}
}
