package deploy

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"

	yamlv3 "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// valuesFile is one user values file as read: its configured name for
// messages, its bytes and what Helm decodes from them.
type valuesFile struct {
	name   string
	data   []byte
	values map[string]any
}

// yamlLine finds the line number the YAML libraries put in their messages.
var yamlLine = regexp.MustCompile(`^(?:error converting YAML to JSON: )?yaml: line (\d+): (.*)$`)

// locateYAMLError rewrites a YAML decoding error as "file:line: message" so
// the user can jump to it; errors without a line keep their text.
func locateYAMLError(file string, err error) *InputError {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &InputError{File: file, Line: line, Msg: m[2]}
	}
	return &InputError{File: file, Msg: err.Error()}
}

// InputError is bad input located in a file: a values file that is not
// valid YAML, for example. Retrying cannot fix it; the user must.
type InputError struct {
	File string
	Line int
	Msg  string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// readValuesFile reads and decodes one values file exactly as `helm -f`
// does (sigs.k8s.io/yaml, so numbers become float64), from its already
// resolved path real.
func readValuesFile(fsys fs.FS, name, real string) (*valuesFile, error) {
	data, err := fs.ReadFile(fsys, real)
	if err != nil {
		return nil, fmt.Errorf("read values file %s: %w", name, err)
	}
	values := map[string]any{}
	if err := yaml.Unmarshal(data, &values); err != nil {
		// Helm's YAML library often blames the line after the mistake; the
		// newer parser names the line itself, so its message is preferred.
		var n yamlv3.Node
		if err3 := yamlv3.Unmarshal(data, &n); err3 != nil {
			if located := locateYAMLError(name, err3); located.Line > 0 {
				return nil, located
			}
		}
		return nil, locateYAMLError(name, err)
	}
	return &valuesFile{name: name, data: data, values: values}, nil
}

// userValues layers values files in order and then the --set and
// --set-string expressions, with the rules of `helm -f a -f b --set ...
// --set-string ...`: later files win, maps merge deeply, and nulls are kept
// so that Helm itself deletes the keys they name from the chart's defaults.
func userValues(files []*valuesFile, set, setString []string) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range files {
		// A copy, because --set writes into the maps it walks.
		base = mergeValueMaps(base, copyValues(f.values).(map[string]any))
	}
	for _, expr := range set {
		if err := strvals.ParseInto(expr, base); err != nil {
			return nil, fmt.Errorf("--set %q: %w", expr, err)
		}
	}
	for _, expr := range setString {
		if err := strvals.ParseIntoString(expr, base); err != nil {
			return nil, fmt.Errorf("--set-string %q: %w", expr, err)
		}
	}
	return base, nil
}

// mergeValueMaps returns a new map with b laid over a: where both hold a map
// under the same key the maps merge recursively, otherwise b's value (null
// included) replaces a's. This is how Helm merges successive -f files.
func mergeValueMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValueMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// copyValues deep-copies a values tree, because Helm's install action
// modifies the map it is given while processing dependencies.
func copyValues(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = copyValues(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyValues(e)
		}
		return out
	default:
		return v
	}
}
