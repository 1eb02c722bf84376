package deploy

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	yamlv3 "go.yaml.in/yaml/v3"
)

// largeIntThreshold is where Go's %v switches a float64 to exponent form:
// Helm reads every number in a values file as float64, so 1048576 prints
// as 1.048576e+06 through {{ .Values.x }} or quote.
const largeIntThreshold = 1e6

// valueSource is a values file whose keys can be located by line.
type valueSource struct {
	name string
	data []byte
}

// largeIntWarnings finds the integers ≥ 1,000,000 that reach the templates
// as float64 from a values file and whose exponent form appears in the
// manifest, and names the file, line and key that set each one. Sources
// are in increasing precedence (chart values.yaml first); a key is blamed on
// the last source that sets it. final holds the values the templates saw.
func largeIntWarnings(final map[string]any, sources []valueSource, manifest string) []ferry.Warning {
	type found struct {
		key  string
		text string
		num  float64
	}
	var hits []found
	walkValues(final, "", func(key string, v any) {
		f, ok := v.(float64)
		if !ok || math.Abs(f) < largeIntThreshold || f != math.Trunc(f) || math.IsInf(f, 0) {
			return
		}
		text := strconv.FormatFloat(f, 'g', -1, 64)
		if strings.Contains(text, "e") && strings.Contains(manifest, text) {
			hits = append(hits, found{key, text, f})
		}
	})
	if len(hits) == 0 {
		return nil
	}
	lines := make([]map[string]int, len(sources))
	for i, s := range sources {
		lines[i] = keyLines(s.data)
	}
	var out []ferry.Warning
	for _, h := range hits {
		w := ferry.Warning{
			Key: h.key,
			Message: fmt.Sprintf("%s renders as %s (Helm reads numbers in values files as floats); "+
				"pipe it through | int in the template or quote the number in the values file",
				strconv.FormatFloat(h.num, 'f', -1, 64), h.text),
		}
		for i := len(sources) - 1; i >= 0; i-- {
			if line, ok := lines[i][h.key]; ok {
				w.File, w.Line = sources[i].name, line
				break
			}
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// walkValues calls fn for every leaf of a values tree with its key path
// (a.b[0].c).
func walkValues(v any, key string, fn func(key string, v any)) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			walkValues(e, joinKey(key, k), fn)
		}
	case []any:
		for i, e := range t {
			walkValues(e, fmt.Sprintf("%s[%d]", key, i), fn)
		}
	default:
		fn(key, v)
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// keyLines maps each leaf key path of a YAML document to the line of its
// value. A document that does not parse yields nothing: Helm has already
// accepted it, so only line numbers are lost.
func keyLines(data []byte) map[string]int {
	var doc yamlv3.Node
	lines := map[string]int{}
	if err := yamlv3.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return lines
	}
	var walk func(n *yamlv3.Node, key string)
	walk = func(n *yamlv3.Node, key string) {
		switch n.Kind {
		case yamlv3.AliasNode:
			walk(n.Alias, key)
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "<<" {
					continue
				}
				walk(v, joinKey(key, k.Value))
				if v.Kind == yamlv3.AliasNode {
					lines[joinKey(key, k.Value)] = v.Line
				}
			}
		case yamlv3.SequenceNode:
			for i, e := range n.Content {
				walk(e, fmt.Sprintf("%s[%d]", key, i))
			}
		case yamlv3.ScalarNode:
			lines[key] = n.Line
		}
	}
	walk(doc.Content[0], "")
	return lines
}
