package deploy

import (
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// renderedDoc is one YAML document of a rendered template.
type renderedDoc struct {
	// template is the template's path inside the chart ("app/templates/x.yaml").
	template string
	// text is the document as Helm writes it into a release: trimmed.
	text string
	kind string
	// content is the decoded document; empty for a document of comments only,
	// which Helm keeps in the manifest.
	content map[string]any
}

// renderedTemplates is what a chart's templates render to, split as Helm
// splits it.
type renderedTemplates struct {
	// manifest holds the release's documents in Helm's install order.
	manifest []renderedDoc
	// hooks holds the hook documents, ordered by kind as Helm orders them.
	hooks []renderedDoc
	// notes is the chart's own NOTES.txt, rendered (subcharts' are ignored).
	notes string
}

// renderTemplates runs Helm's template engine and sorts its output exactly
// as Helm's install does (releaseutil.SortManifests with InstallOrder), but
// decodes each resource document once: Helm's sort decodes every document
// to read its head and the caller then needs the whole object, and decoding
// was most of a render's cost. Hooks, few and applied as they stand, are
// decoded again by the caller.
func renderTemplates(ch *chart.Chart, values chartutil.Values) (*renderedTemplates, error) {
	files, err := engine.Engine{}.Render(ch, values)
	if err != nil {
		return nil, err
	}
	out := &renderedTemplates{}
	ownNotes := path.Join(ch.Name(), "templates", "NOTES.txt")
	paths := make([]string, 0, len(files))
	for p, text := range files {
		switch {
		case p == ownNotes:
			out.notes = text
		case strings.HasSuffix(p, "NOTES.txt"), strings.HasPrefix(path.Base(p), "_"), strings.TrimSpace(text) == "":
		default:
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		entries := releaseutil.SplitManifests(files[p])
		keys := make([]string, 0, len(entries))
		for k := range entries {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			doc, hook, isHook, err := decodeDoc(p, entries[k])
			if err != nil {
				return nil, err
			}
			switch {
			case !isHook:
				out.manifest = append(out.manifest, doc)
			case knownHookEvents(hook):
				out.hooks = append(out.hooks, doc)
			default:
				// Helm drops a document whose hook events it does not know.
				slog.Debug("skipping a document with unknown hook events", "template", p, "hook", hook)
			}
		}
	}
	sortByInstallOrder(out.manifest)
	sortByInstallOrder(out.hooks)
	return out, nil
}

// decodeDoc decodes one document and returns its helm.sh/hook annotation,
// if it has one. It refuses what Helm's own sort refuses: metadata or
// annotations that are not mappings, or a list or mapping where Helm reads
// text (kind, apiVersion, name, an annotation's value).
func decodeDoc(template, text string) (doc renderedDoc, hook string, isHook bool, err error) {
	doc = renderedDoc{template: template, text: text, content: map[string]any{}}
	// The release manifest carries the document followed by a newline, and
	// that is what the API server decodes (a block scalar ending the
	// document keeps its line break).
	if err := yaml.Unmarshal([]byte(text+"\n"), &doc.content); err != nil {
		return doc, "", false, fmt.Errorf("YAML parse error on %s: %w", template, err)
	}
	md, err := headMap(doc.content, "", "metadata")
	if err == nil {
		_, err = headString(doc.content, "", "apiVersion")
	}
	if err == nil {
		doc.kind, err = headString(doc.content, "", "kind")
	}
	if err == nil {
		_, err = headString(md, "metadata.", "name")
	}
	var annotations map[string]any
	if err == nil {
		annotations, err = headMap(md, "metadata.", "annotations")
	}
	for k := range annotations {
		if err == nil {
			_, err = headString(annotations, "metadata.annotations.", k)
		}
	}
	if err != nil {
		return doc, "", false, fmt.Errorf("YAML parse error on %s: %w", template, err)
	}
	_, isHook = annotations[release.HookAnnotation]
	hook, _ = headString(annotations, "", release.HookAnnotation)
	return doc, hook, isHook, nil
}

// headString reads the optional field key of a document's head (parent
// names where it sits, for the message) as Helm's sort reads it: absent or
// null is empty, a number or boolean is taken as its text, a list or
// mapping is an error.
func headString(m map[string]any, parent, key string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case map[string]any, []any:
		return "", fmt.Errorf("%s%s must be a string", parent, key)
	default:
		return fmt.Sprint(v), nil
	}
}

// headMap reads the optional mapping key of a document's head.
func headMap(m map[string]any, parent, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	default:
		return nil, fmt.Errorf("%s%s must be a mapping", parent, key)
	}
}

// knownHookEvents reports whether every event a helm.sh/hook annotation
// names is one Helm runs.
func knownHookEvents(annotation string) bool {
	for _, e := range strings.Split(annotation, ",") {
		switch release.HookEvent(strings.ToLower(strings.TrimSpace(e))) {
		case release.HookPreInstall, release.HookPostInstall, release.HookPreDelete, release.HookPostDelete,
			release.HookPreUpgrade, release.HookPostUpgrade, release.HookPreRollback, release.HookPostRollback,
			release.HookTest, "test-success":
		default:
			return false
		}
	}
	return true
}

// sortByInstallOrder orders documents as Helm does: known kinds in install
// order, then unknown kinds alphabetically; equal kinds keep their order.
func sortByInstallOrder(docs []renderedDoc) {
	rank := make(map[string]int, len(releaseutil.InstallOrder))
	for i, k := range releaseutil.InstallOrder {
		rank[k] = i
	}
	slices.SortStableFunc(docs, func(a, b renderedDoc) int {
		ra, aKnown := rank[a.kind]
		rb, bKnown := rank[b.kind]
		switch {
		case aKnown && bKnown:
			return ra - rb
		case aKnown:
			return -1
		case bKnown:
			return 1
		default:
			return strings.Compare(a.kind, b.kind)
		}
	})
}
