package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// Why ferry hands Helm a chart made from the rendered manifest rather than
// the chart itself: an upgrade would render the chart again, with
// .Release.IsUpgrade and .Release.Revision changed, `lookup` answered by the
// live cluster and the capabilities of the moment, so what is applied could
// differ from what was rendered, digested, diffed and admitted. The chart
// built here holds each rendered document as a file, and one template per
// source path that prints its documents back with .Files.Get. Helm then
// splits, sorts and classifies them exactly as it did during the render, so
// the release manifest and hooks Helm records are the render, byte for byte
// (appliedManifest checks it before anything is sent to the cluster).
//
// What the release record loses is the original chart's files: `helm get
// values` still shows the user values, and `helm history` shows the chart's
// name and version, read from the manifest.

// manifestDir holds the rendered documents inside the chart.
const manifestDir = "ferry-rendered"

// manifestDoc is one document of a rendered manifest and the template it came from.
type manifestDoc struct {
	source  string
	content string
}

// splitRendered cuts a manifest as Render writes it ("---\n# Source: path\n"
// before every document) into its documents. Helm's own splitting has
// already removed any "\n---" from inside documents, so the separator cannot
// occur in content.
func splitRendered(manifest string) ([]manifestDoc, error) {
	body := strings.TrimSpace(manifest)
	if body == "" {
		return nil, nil
	}
	if !strings.HasPrefix(body, "---\n") {
		return nil, fmt.Errorf("rendered manifest does not start with a document separator")
	}
	var docs []manifestDoc
	for i, chunk := range strings.Split(body[len("---\n"):], "\n---\n") {
		header, content, _ := strings.Cut(chunk, "\n")
		if !strings.HasPrefix(header, sourcePrefix) {
			return nil, fmt.Errorf("rendered manifest document %d has no %q header", i+1, strings.TrimSpace(sourcePrefix))
		}
		docs = append(docs, manifestDoc{source: strings.TrimPrefix(header, sourcePrefix), content: strings.TrimSpace(content)})
	}
	return docs, nil
}

// manifestChart builds the chart that renders to exactly r.Manifest (see
// the comment at the top of this file).
func manifestChart(r *ferry.Rendered) (*chart.Chart, error) {
	docs, err := splitRendered(r.Manifest)
	if err != nil {
		return nil, err
	}
	name := ""
	bySource := map[string][]string{}
	var order []string
	for _, d := range docs {
		top, rest, ok := strings.Cut(d.source, "/")
		if !ok || top == "" || rest == "" {
			return nil, fmt.Errorf("rendered manifest: source %q is not inside a chart", d.source)
		}
		if name == "" {
			name = top
		} else if top != name {
			return nil, fmt.Errorf("rendered manifest: sources from two charts, %q and %q", name, top)
		}
		if _, seen := bySource[rest]; !seen {
			order = append(order, rest)
		}
		bySource[rest] = append(bySource[rest], d.content)
	}
	if name == "" {
		name = r.Release
	}
	version, appVersion := chartVersion(name, r.Objects)
	c := &chart.Chart{Metadata: &chart.Metadata{
		APIVersion:  chart.APIVersionV2,
		Name:        name,
		Version:     version,
		AppVersion:  appVersion,
		Description: "manifest rendered by ferry",
		Type:        "application",
	}}
	for i, tpl := range order {
		file := path.Join(manifestDir, strconv.Itoa(i)+".yaml")
		c.Files = append(c.Files, &chart.File{Name: file, Data: []byte(strings.Join(bySource[tpl], "\n---\n"))})
		c.Templates = append(c.Templates, &chart.File{Name: tpl, Data: []byte(`{{ .Files.Get "` + file + `" }}`)})
	}
	if r.Notes != "" {
		file := path.Join(manifestDir, "NOTES.txt")
		c.Files = append(c.Files, &chart.File{Name: file, Data: []byte(r.Notes)})
		c.Templates = append(c.Templates, &chart.File{Name: "templates/NOTES.txt", Data: []byte(`{{ .Files.Get "` + file + `" }}`)})
	}
	return c, nil
}

// chartVersion reads the chart's version and app version from the
// helm.sh/chart ("name-version") and app.kubernetes.io/version labels that
// charts conventionally set; they only label the release record. A chart
// without them is recorded as version 0.0.0.
func chartVersion(name string, objects []ferry.Object) (version, appVersion string) {
	for _, o := range objects {
		md, _ := o.Content["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		v, _ := labels["helm.sh/chart"].(string)
		rest, ok := strings.CutPrefix(v, name+"-")
		if !ok {
			continue
		}
		if _, err := semver.StrictNewVersion(strings.ReplaceAll(rest, "_", "+")); err != nil {
			continue
		}
		app, _ := labels["app.kubernetes.io/version"].(string)
		return strings.ReplaceAll(rest, "_", "+"), app
	}
	return "0.0.0", ""
}

// appliedManifest writes a Helm release's manifest and hooks the way Render
// writes a manifest, so the two can be compared byte for byte.
func appliedManifest(rel *release.Release) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n%s%s\n%s\n", sourcePrefix, h.Path, h.Manifest)
	}
	return b.String()
}

// checkManifestChart renders c offline, as Helm will render it during the
// apply, and refuses it unless the result is r.Manifest byte for byte.
func checkManifestChart(ctx context.Context, c *chart.Chart, r *ferry.Rendered) error {
	cfg := &action.Configuration{
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Releases:     storage.Init(driver.NewMemory()),
		Capabilities: chartutil.DefaultCapabilities.Copy(),
		Log:          func(string, ...any) {},
	}
	install := action.NewInstall(cfg)
	install.DryRun = true
	install.DryRunOption = "client"
	install.ReleaseName = r.Release
	install.Namespace = r.Namespace
	rel, err := install.RunWithContext(ctx, c, map[string]any{})
	if err != nil {
		return fmt.Errorf("rebuild the rendered manifest: %w", err)
	}
	if got := appliedManifest(rel); got != r.Manifest {
		return fmt.Errorf("%w: Helm would apply a manifest of %d bytes that differs from the %d rendered ones at byte %d",
			ErrManifestMismatch, len(got), len(r.Manifest), diffOffset(got, r.Manifest))
	}
	return nil
}

// ErrManifestMismatch means the manifest Helm would apply is not the one
// rendered; nothing was applied.
var ErrManifestMismatch = errors.New("applied manifest would differ from the render")

func diffOffset(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
