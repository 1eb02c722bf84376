package deploy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ChangeKind says how an object or field differs.
type ChangeKind string

// Change kinds, as the diff text marks them (+, -, ~).
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// masked stands in for every Secret value in a diff.
const masked = "<masked>"

// FieldChange is one field that differs, with both sides as JSON text
// (masked for Secret data).
type FieldChange struct {
	Path string     `json:"path"`
	Kind ChangeKind `json:"kind"`
	Old  string     `json:"old,omitempty"`
	New  string     `json:"new,omitempty"`
}

// ObjectDiff is one object that differs between the cluster and the render.
type ObjectDiff struct {
	Ref    ferry.ObjectRef `json:"ref"`
	Kind   ChangeKind      `json:"kind"`
	Fields []FieldChange   `json:"fields,omitempty"`
}

// Changes is the difference between a release's live objects and a render.
// The zero value means no difference.
type Changes struct {
	Objects []ObjectDiff `json:"objects,omitempty"`
}

// Empty reports whether applying the render would change nothing.
func (c *Changes) Empty() bool { return c == nil || len(c.Objects) == 0 }

// String prints the changes one object per line, with its fields indented:
// "+ " added, "- " removed, "~ " changed. Secret values are already masked.
func (c *Changes) String() string {
	var b strings.Builder
	for _, o := range c.Objects {
		fmt.Fprintf(&b, "%s %s\n", mark(o.Kind), o.Ref)
		for _, f := range o.Fields {
			switch f.Kind {
			case Added:
				fmt.Fprintf(&b, "    + %s: %s\n", f.Path, f.New)
			case Removed:
				fmt.Fprintf(&b, "    - %s: %s\n", f.Path, f.Old)
			default:
				fmt.Fprintf(&b, "    ~ %s: %s -> %s\n", f.Path, f.Old, f.New)
			}
		}
	}
	return b.String()
}

func mark(k ChangeKind) string {
	switch k {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

// Diff compares the live objects of a release with what a render would
// apply (its Objects; hooks are not kept objects and are left out).
// Objects match by API group, kind, namespace and name; a rendered object
// without a namespace is looked for in the release namespace, then among
// cluster-scoped objects.
//
// Fields are compared where the render sets them: fields only the live
// object has (status, server metadata, defaults the API server filled in)
// are not changes. Quantities compare by value, as the API server
// normalises them (4000m is stored as 4), numbers by value whatever their
// JSON type, and a Secret's stringData as the data it becomes. Every value
// under a Secret's data or stringData is masked.
func Diff(live []ferry.Object, rendered *ferry.Rendered) *Changes {
	return diffObjects(live, rendered, false)
}

// diffObjects is Diff; with removals, a field the old side has and the
// rendered side lacks is a removal rather than something the server added.
func diffObjects(live []ferry.Object, rendered *ferry.Rendered, removals bool) *Changes {
	index := make(map[string]ferry.Object, len(live))
	for _, o := range live {
		index[objectKey(o.ObjectRef)] = o
	}
	seen := map[string]bool{}
	out := &Changes{}
	for _, r := range rendered.Objects {
		ref := r.ObjectRef
		if ref.Namespace == "" {
			ref.Namespace = rendered.Namespace
			if _, ok := index[objectKey(ref)]; !ok {
				if _, ok := index[objectKey(r.ObjectRef)]; ok {
					ref.Namespace = ""
				}
			}
		}
		key := objectKey(ref)
		seen[key] = true
		l, ok := index[key]
		if !ok {
			out.Objects = append(out.Objects, ObjectDiff{Ref: ref, Kind: Added})
			continue
		}
		secret := ref.Kind == "Secret" && schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).Group == ""
		want := r.Content
		if secret {
			want = secretAsStored(want)
		}
		var fields []FieldChange
		compare(&fields, nil, l.Content, want, secret, removals)
		if len(fields) > 0 {
			out.Objects = append(out.Objects, ObjectDiff{Ref: ref, Kind: Changed, Fields: fields})
		}
	}
	var removed []ObjectDiff
	for _, l := range live {
		if !seen[objectKey(l.ObjectRef)] {
			removed = append(removed, ObjectDiff{Ref: l.ObjectRef, Kind: Removed})
		}
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].Ref.String() < removed[j].Ref.String() })
	out.Objects = append(out.Objects, removed...)
	return out
}

// DiffRenders compares two renders of one release, as Diff would compare
// them had prev been applied: what a revision changes against the one an
// environment runs, shown in chat without a read of the cluster. Secret data
// is masked on both sides.
func DiffRenders(prev, next *ferry.Rendered) *Changes {
	stored := make([]ferry.Object, len(prev.Objects))
	for i, o := range prev.Objects {
		if o.Kind == "Secret" && schema.FromAPIVersionAndKind(o.APIVersion, o.Kind).Group == "" {
			o.Content = secretAsStored(o.Content)
		}
		stored[i] = o
	}
	return diffObjects(stored, next, true)
}

// objectKey identifies an object across API versions of its group.
func objectKey(r ferry.ObjectRef) string {
	gv, _ := schema.ParseGroupVersion(r.APIVersion)
	return gv.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// secretAsStored turns a rendered Secret's stringData into base64 data, as
// the API server stores it, so both sides compare alike.
func secretAsStored(content map[string]any) map[string]any {
	sd, ok := content["stringData"].(map[string]any)
	if !ok {
		return content
	}
	out := make(map[string]any, len(content))
	for k, v := range content {
		if k != "stringData" {
			out[k] = v
		}
	}
	data := map[string]any{}
	if d, ok := content["data"].(map[string]any); ok {
		for k, v := range d {
			data[k] = v
		}
	}
	for k, v := range sd {
		s, _ := v.(string)
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	out["data"] = data
	return out
}

// compare records how live differs from want at every field want sets.
func compare(out *[]FieldChange, path []string, live, want any, secret, removals bool) {
	sensitive := isSensitive(secret, path)
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			*out = append(*out, change(path, live, want, sensitive))
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := append(append([]string{}, path...), k)
			lv, present := l[k]
			if !present {
				if w[k] != nil {
					*out = append(*out, FieldChange{Path: fieldPath(sub), Kind: Added, New: show(w[k], isSensitive(secret, sub))})
				}
				continue
			}
			compare(out, sub, lv, w[k], secret, removals)
		}
		if removals {
			var gone []string
			for k := range l {
				if _, kept := w[k]; !kept && l[k] != nil {
					gone = append(gone, k)
				}
			}
			sort.Strings(gone)
			for _, k := range gone {
				sub := append(append([]string{}, path...), k)
				*out = append(*out, FieldChange{Path: fieldPath(sub), Kind: Removed, Old: show(l[k], isSensitive(secret, sub))})
			}
		}
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			*out = append(*out, change(path, live, want, sensitive))
			return
		}
		for i := range w {
			sub := append(append([]string{}, path...), fmt.Sprintf("[%d]", i))
			compare(out, sub, l[i], w[i], secret, removals)
		}
	default:
		if !sameScalar(path, live, want) {
			*out = append(*out, change(path, live, want, sensitive))
		}
	}
}

// isSensitive reports whether path lies under a Secret's data or stringData.
func isSensitive(secret bool, path []string) bool {
	return secret && len(path) >= 1 && (path[0] == "data" || path[0] == "stringData")
}

func change(path []string, live, want any, sensitive bool) FieldChange {
	return FieldChange{Path: fieldPath(path), Kind: Changed, Old: show(live, sensitive), New: show(want, sensitive)}
}

// sameScalar compares two leaf values: numbers by value, and quantities by
// value where the field holds a quantity.
func sameScalar(path []string, a, b any) bool {
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			return fa == fb
		}
	}
	if a == b {
		return true
	}
	if quantityField(path) {
		qa, okA := quantityOf(a)
		qb, okB := quantityOf(b)
		return okA && okB && qa.Cmp(qb) == 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, !math.IsNaN(t)
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

// quantityParents are the map fields whose values are resource quantities
// keyed by resource name (requests.cpu, hard.pods, capacity.storage, ...).
var quantityParents = map[string]bool{
	"requests": true, "limits": true, "hard": true, "used": true, "capacity": true,
	"allocatable": true, "overhead": true, "default": true, "defaultRequest": true,
	"max": true, "min": true, "maxLimitRequestRatio": true,
}

// quantityField reports whether the leaf at path holds a quantity.
func quantityField(path []string) bool {
	n := len(path)
	if n == 0 {
		return false
	}
	if path[n-1] == "sizeLimit" {
		return true
	}
	return n >= 2 && quantityParents[path[n-2]]
}

func show(v any, sensitive bool) string {
	if sensitive {
		return masked
	}
	if v == nil {
		return "null"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// fieldPath joins a path as a.b[0].c.
func fieldPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
