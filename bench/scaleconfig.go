package bench

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"
	"time"
)

// tinyChart is the chart of the scale benchmark: a ConfigMap and a
// one-replica Deployment, with a values file per tier.
//
//go:embed tinychart
var tinyChart embed.FS

// tinyChartDir is where the scale repository holds the chart.
const tinyChartDir = "charts/tiny"

// tiers are the environments of one pipeline of the scale benchmark: a
// `from` chain of three.
var tiers = []string{"dev", "staging", "prod"}

// ScaleLayout is the ferry.yaml of one scale run: Envs environments in
// pipelines of three (dev → staging → prod), one namespace each, every
// pipeline following the same repository.
type ScaleLayout struct {
	Envs int
	// RepoURL is the Git URL all pipelines follow.
	RepoURL string
	// Listen is ferry's HTTP address.
	Listen string
	// Workers is timing.workers: environments reconciled at once.
	Workers int
	// Poll is each pipeline's source.interval.
	Poll time.Duration
	// HealthTimeout is every environment's health gate timeout.
	HealthTimeout time.Duration
	// StateNamespace holds ferry's state ConfigMaps and Lease.
	StateNamespace string
	// Prefix starts every pipeline name, so runs of several sizes on one
	// cluster never share a namespace.
	Prefix string
}

// scalePipeline is one pipeline of the layout, for the template.
type scalePipeline struct {
	Name string
	Envs []scaleEnv
}

type scaleEnv struct{ Name, From string }

// Pipelines lists the layout's pipelines: Envs environments in chains of
// three, the last chain shorter when Envs is not a multiple of three.
func (l ScaleLayout) Pipelines() []scalePipeline {
	var out []scalePipeline
	for i := 0; i*len(tiers) < l.Envs; i++ {
		p := scalePipeline{Name: fmt.Sprintf("%s%04d", l.Prefix, i+1)}
		for j, t := range tiers {
			if i*len(tiers)+j >= l.Envs {
				break
			}
			e := scaleEnv{Name: t}
			if j > 0 {
				e.From = tiers[j-1]
			}
			p.Envs = append(p.Envs, e)
		}
		out = append(out, p)
	}
	return out
}

// Releases lists "namespace/release" of every environment of the layout,
// as ferry's defaults name them (both "<pipeline>-<environment>").
func (l ScaleLayout) Releases() []string {
	var out []string
	for _, p := range l.Pipelines() {
		for _, e := range p.Envs {
			name := p.Name + "-" + e.Name
			out = append(out, name+"/"+name)
		}
	}
	return out
}

var scaleTemplate = template.Must(template.New("ferry.yaml").Parse(`# ferry's scale benchmark: {{.Layout.Envs}} environments in {{len .Pipelines}} pipelines of
# dev → staging → prod, one namespace each, all following one repository.
# Every environment reaches the cluster through $KUBECONFIG.
pipelines:
{{- range .Pipelines}}
  - name: {{.Name}}
    source: {url: {{$.Layout.RepoURL}}, interval: {{$.Layout.Poll}}}
    chart: ` + tinyChartDir + `
    environments:
{{- range .Envs}}
      - name: {{.Name}}
{{- if .From}}
        from: {{.From}}
{{- end}}
        createNamespace: true
        values: [` + tinyChartDir + `/values-{{.Name}}.yaml]
        gates: {health: {timeout: {{$.Layout.HealthTimeout}}}}
{{- end}}
{{- end}}
server:
  listen: {{.Layout.Listen}}
state:
  namespace: {{.Layout.StateNamespace}}
timing:
  workers: {{.Layout.Workers}}
`))

// Config renders the layout's ferry.yaml.
func (l ScaleLayout) Config() ([]byte, error) {
	var buf bytes.Buffer
	err := scaleTemplate.Execute(&buf, struct {
		Layout    ScaleLayout
		Pipelines []scalePipeline
	}{l, l.Pipelines()})
	if err != nil {
		return nil, fmt.Errorf("bench: scale config: %w", err)
	}
	return buf.Bytes(), nil
}

// tinyChartFiles returns the chart's files keyed by their path in the scale
// repository.
func tinyChartFiles() (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(tinyChart, "tinychart", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := tinyChart.ReadFile(p)
		if err != nil {
			return err
		}
		files[path.Join(tinyChartDir, strings.TrimPrefix(p, "tinychart/"))] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: read the tiny chart: %w", err)
	}
	return files, nil
}
