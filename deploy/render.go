package deploy

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// RenderSpec is everything besides the repository files that decides what a
// chart renders to for one environment.
type RenderSpec struct {
	// Chart is the chart directory, relative to the repository root.
	Chart string
	// ValuesFiles are layered in order over the chart's values.yaml, like
	// repeated `helm -f`; paths are relative to the repository root.
	ValuesFiles []string
	// Set and SetString are `--set` and `--set-string` expressions, applied
	// in order after all files (every Set before any SetString, as Helm does).
	Set       []string
	SetString []string
	// Release and Namespace are the Helm release name and its namespace.
	Release   string
	Namespace string
	// Capabilities of the target; nil means `helm template`'s defaults.
	Capabilities *Capabilities
	// Schemas, when set, keeps the chart's compiled values schemas for the
	// next render; nil compiles them on every render, as Helm does.
	Schemas *SchemaCache
}

// Render renders the chart of spec from the repository files in src exactly
// as `helm template RELEASE CHART -n NS -f ... --set ... --kube-version ...
// --api-versions ...` would, and describes the result: objects, hooks, user
// values, notes, warnings, digest and resource summary.
//
// Every configured path is checked before any file is read: one that leaves
// the repository fails with an error wrapping ErrPathOutsideRepo. A values
// file that is not valid YAML fails with an *InputError naming file and
// line. Template and schema errors are Helm's, which name the template and
// line, or the key path. Render keeps no state and is safe to call
// concurrently.
func Render(ctx context.Context, src fs.FS, spec RenderSpec) (*ferry.Rendered, error) {
	chartDir, err := cleanRepoPath(spec.Chart)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	realValues := make([]string, len(spec.ValuesFiles))
	for i, f := range spec.ValuesFiles {
		if realValues[i], err = repoPath(src, f); err != nil {
			return nil, fmt.Errorf("values file: %w", err)
		}
	}
	caps := spec.Capabilities
	if caps == nil {
		if caps, err = OfflineCapabilities("", nil); err != nil {
			return nil, err
		}
	}

	chrt, err := loadChart(src, chartDir)
	if err != nil {
		return nil, err
	}
	if t := chrt.Metadata.Type; t != "" && t != "application" {
		return nil, fmt.Errorf("chart %s: %s charts are not installable", spec.Chart, t)
	}
	if deps := chrt.Metadata.Dependencies; deps != nil {
		if err := action.CheckDependencies(chrt, deps); err != nil {
			return nil, fmt.Errorf("chart %s: %w", spec.Chart, err)
		}
	}
	files := make([]*valuesFile, len(spec.ValuesFiles))
	for i, f := range spec.ValuesFiles {
		if files[i], err = readValuesFile(src, f, realValues[i]); err != nil {
			return nil, err
		}
	}
	user, err := userValues(files, spec.Set, spec.SetString)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	if err := chartutil.ValidateReleaseName(spec.Release); err != nil {
		return nil, fmt.Errorf("render %s: release name %q: %w", spec.Chart, spec.Release, err)
	}
	helmCaps := caps.helm()
	// Helm changes both the chart (dropping disabled subcharts) and the
	// values it is given; the user's values stay as they were read.
	vals := copyValues(user).(map[string]any)
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, fmt.Errorf("render %s: %w", spec.Chart, err)
	}
	opts := chartutil.ReleaseOptions{Name: spec.Release, Namespace: spec.Namespace, Revision: 1, IsInstall: true}
	renderValues, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, helmCaps, spec.Schemas != nil)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", spec.Chart, err)
	}
	if spec.Schemas != nil {
		if err := spec.Schemas.validate(chrt, renderValues["Values"].(chartutil.Values)); err != nil {
			return nil, fmt.Errorf("render %s: values don't meet the specifications of the schema(s) in the following chart(s):\n%w", spec.Chart, err)
		}
	}
	// Helm checks the chart's Kubernetes range after the values, as here.
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, helmCaps.KubeVersion.String()) {
		return nil, fmt.Errorf("render %s: chart requires kubeVersion: %s which is incompatible with Kubernetes %s", spec.Chart, kv, helmCaps.KubeVersion.String())
	}
	// The values the templates see: the chart's defaults coalesced with the
	// user's. Read before rendering, as a template may change them.
	final := copyValues(map[string]any(renderValues["Values"].(chartutil.Values))).(map[string]any)
	tpl, err := renderTemplates(chrt, renderValues)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", spec.Chart, err)
	}

	// The manifest is what `helm template` prints: the release's documents,
	// then its hooks.
	var manifest strings.Builder
	for i, d := range tpl.manifest {
		if i > 0 {
			manifest.WriteString("\n")
		}
		fmt.Fprintf(&manifest, "---\n%s%s\n%s", sourcePrefix, d.template, d.text)
	}
	manifest.WriteString("\n")
	out := &ferry.Rendered{
		Release:     spec.Release,
		Namespace:   spec.Namespace,
		Values:      user,
		Notes:       tpl.notes,
		KubeVersion: caps.KubeVersion,
	}
	for _, d := range tpl.manifest {
		if len(d.content) == 0 {
			continue // only comments
		}
		obj, err := newObject(d.template, d.content)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", spec.Chart, err)
		}
		out.Objects = append(out.Objects, obj)
	}
	for _, h := range tpl.hooks {
		fmt.Fprintf(&manifest, "---\n%s%s\n%s\n", sourcePrefix, h.template, h.text)
		// Helm applies a hook's document as it stands, without the line
		// break a release manifest adds after it.
		obj, ok, err := decodeObject(h.text, h.template)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", spec.Chart, err)
		}
		if ok {
			out.Hooks = append(out.Hooks, obj)
		}
	}
	out.Manifest = manifest.String()

	sources := []valueSource{{name: path.Join(chartDir, chartutil.ValuesfileName), data: chartValuesFile(chrt)}}
	for _, f := range files {
		sources = append(sources, valueSource{name: f.name, data: f.data})
	}
	out.Warnings = largeIntWarnings(final, sources, out.Manifest)
	out.Digest = Digest(out.Manifest, spec.Release, spec.Namespace, caps)
	out.Summary = Summarize(append(append([]ferry.Object{}, out.Objects...), out.Hooks...))
	return out, nil
}

// chartValuesFile returns the raw bytes of the chart's own values.yaml, nil
// when it has none.
func chartValuesFile(c *chart.Chart) []byte {
	for _, f := range c.Raw {
		if f.Name == chartutil.ValuesfileName {
			return f.Data
		}
	}
	return nil
}
