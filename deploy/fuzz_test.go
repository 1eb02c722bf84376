package deploy

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
)

// FuzzValues reads two values files as `helm -f a.yaml -f b.yaml` does and
// layers them with one --set expression (userValues), then coalesces the
// user values with a chart whose defaults are the first file. It must never
// panic, and:
//
//   - a file that does not decode fails with an *InputError naming it, and a
//     bad --set with an error naming the expression;
//   - the two files layer exactly by Helm's rule for -f: for every key of
//     the second file, the result holds the second file's value (null
//     included: it is kept for Helm to delete with), unless both hold maps
//     there, which merge by the same rule; every other key keeps the first
//     file's value; nothing else appears; neither file is modified;
//   - a --set expression that parses on its own and cannot name any
//     top-level key of the files succeeds on them; when it succeeds, a key
//     the files do not hold equals what the expression sets on its own, a
//     key it sets nothing under keeps the files' value, and no other key
//     appears;
//   - coalescing with the chart, a user null deletes a key the chart's
//     defaults hold (and only keeps it, as null, when they do not), a key
//     the user does not set keeps the default, and a scalar or list the
//     user sets wins.
func FuzzValues(f *testing.F) {
	f.Add("replicas: 1\nimage:\n  tag: \"1.0\"\n", "image:\n  tag: \"1.1\"\n", "replicas=3")
	f.Add("a: [1, 2\n", "b: 1\n", "")                                                    // malformed YAML, first file
	f.Add("a: 1\n", "b:\n  - c\n d: 2\n", "")                                            // malformed YAML, second file
	f.Add("a: 1\n", "\tb: 1\n", "")                                                      // a tab
	f.Add("memory: 1048576\nbig: 12345678901234567890\n", "cpu: 1e6\n", "limit=1000000") // integers ≥ 1e6
	f.Add("ключ: значение\n\"日本\": 1\n", "ключ: другое\némoji🙂: yes\n", "ü.ß=1")         // unicode keys
	f.Add("a:\n  b: 1\n  c: 2\nd: 3\n", "a:\n  b: null\nd: ~\n", "")                     // null deletes a key
	f.Add("a: 1\n", "a: null\n", "a=null")
	f.Add("a:\n  b: 1\n", "a: null\n", "a.c=2")
	f.Add("a: {b: {c: {d: {e: {f: {g: {h: 1}}}}}}}\n", "a: {b: {c: {d: {e: {f: {g: {i: 2}}}}}}}\n", "a.b.c.d.e.f.g.j=3") // deep maps
	f.Add(strings.Repeat("[", 200)+strings.Repeat("]", 200), "", "")
	f.Add("", "", strings.Repeat("a.", 31)+"a=1")                            // deeper than Helm's --set limit
	f.Add("a: 1\n", "b: 2\n", "a.b")                                         // key without value
	f.Add("a: 1\n", "b: 2\n", "a.b,")                                        // key without value, comma
	f.Add("a: 1\n", "b: 2\n", `name=a\,b,list={x,y}`)                        // escaped comma, list
	f.Add("a:\n  b: 1\n", "", "a[0]=x")                                      // index into a map
	f.Add("a: [1, 2]\n", "", "a[1]=x,a[3].b=y")                              // lists
	f.Add("a: 1\n", "", "b[99999999]=x")                                     // index over Helm's limit
	f.Add("a: {}\n", "a: 1\n", "a.=x")                                       // empty key
	f.Add(`'a\b': 1`, "", `a\\b=2,c\.d=3`)                                   // escaped backslash and dot
	f.Add("x: &r [*r]\n", "", "")                                            // self-referencing alias
	f.Add("a: &a [1,2]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n", "", "") // aliases
	f.Add("<<: {a: 1}\nb: 2\n", "a: 3\n", "")                                // merge key
	f.Add("- 1\n- 2\n", "a: 1\n", "")                                        // a list, not a map
	f.Add("null\n", "", "")                                                  // a null document
	f.Add("a: .nan\n", "b: .inf\n", "")                                      // not JSON numbers
	f.Add("a: 1\n---\nb: 2\n", "", "")                                       // two documents
	f.Add("true: 1\n1: 2\n", "", "")                                         // non-string keys
	f.Add("", "", "a=1,b.c=true,d=0,e=007,f=null,g=")

	f.Fuzz(func(t *testing.T, first, second, set string) {
		fsys := fstest.MapFS{"a.yaml": {Data: []byte(first)}, "b.yaml": {Data: []byte(second)}}
		read := func(name, real string) *valuesFile {
			vf, err := readValuesFile(fsys, name, real)
			if err != nil {
				var ie *InputError
				if !errors.As(err, &ie) || ie.File != name || ie.Msg == "" || !strings.HasPrefix(err.Error(), name+":") {
					t.Fatalf("%s: error %q (%T) does not locate the file", name, err, err)
				}
			}
			return vf
		}
		fa, fb := read("values/a.yaml", "a.yaml"), read("values/b.yaml", "b.yaml")
		if fa == nil || fb == nil {
			return
		}
		a, b := copyValues(fa.values).(map[string]any), copyValues(fb.values).(map[string]any)

		// The two files alone.
		merged, err := userValues([]*valuesFile{fa, fb}, nil, nil)
		if err != nil {
			t.Fatalf("layering two decoded files: %v", err)
		}
		checkLayered(t, "", a, b, merged)
		unchanged := func(v, snap map[string]any) bool { return len(v) == 0 && len(snap) == 0 || reflect.DeepEqual(v, snap) }
		if !unchanged(fa.values, a) || !unchanged(fb.values, b) {
			t.Fatalf("layering modified the files' values")
		}

		// And the --set expression on top, on fresh copies: Helm's parser
		// writes into the maps it is given.
		_ = ValidateSet(set)
		fresh := func(vf *valuesFile, v map[string]any) *valuesFile {
			return &valuesFile{name: vf.name, data: vf.data, values: copyValues(v).(map[string]any)}
		}
		got, err := userValues([]*valuesFile{fresh(fa, a), fresh(fb, b)}, []string{set}, nil)
		if err != nil && (err.Error() == "" || !strings.HasPrefix(err.Error(), "--set "+strconv.Quote(set)+": ")) {
			t.Fatalf("--set error %q does not name the expression", err)
		}
		alone, aloneErr := strvals.Parse(set)
		if aloneErr == nil && !mentionsAny(set, merged) {
			// The files cannot be in the way of an expression that names none
			// of their keys.
			if err != nil {
				t.Fatalf("--set %q parses alone and names no key of the files, yet fails on them: %v", set, err)
			}
		}
		if aloneErr == nil && err == nil {
			for k, v := range got {
				_, inFiles := merged[k]
				av, inAlone := alone[k]
				switch {
				case !inFiles && !inAlone:
					t.Fatalf("--set %q: key %q from nowhere = %#v", set, k, v)
				case !inFiles && !reflect.DeepEqual(v, av):
					t.Fatalf("--set %q: %s = %#v, want %#v as it sets alone", set, k, v, av)
				}
			}
			for k, v := range merged {
				if _, inAlone := alone[k]; !inAlone && !reflect.DeepEqual(got[k], v) {
					t.Fatalf("--set %q changed %s, which it sets nothing under: %#v, was %#v", set, k, got[k], v)
				}
			}
		}

		// Coalesced with a chart whose defaults are the first file.
		user, err := userValues([]*valuesFile{fresh(fb, b)}, nil, nil)
		if err != nil {
			t.Fatalf("one decoded file: %v", err)
		}
		chrt := &chart.Chart{Metadata: &chart.Metadata{Name: "fuzz", Version: "0.1.0", APIVersion: chart.APIVersionV2},
			Values: copyValues(a).(map[string]any)}
		final, err := chartutil.CoalesceValues(chrt, user)
		if err != nil {
			t.Fatalf("coalescing: %v", err)
		}
		for k, uv := range b {
			dv, inDefaults := a[k]
			fv, inFinal := final[k]
			_, userMap := uv.(map[string]any)
			switch {
			case uv == nil && inDefaults:
				if inFinal {
					t.Fatalf("null %s did not delete the chart's default %#v: %#v", k, dv, fv)
				}
			case uv == nil:
				if !inFinal || fv != nil {
					t.Fatalf("null %s with no default: %#v (present %v), want null", k, fv, inFinal)
				}
			case !userMap && !reflect.DeepEqual(fv, uv):
				t.Fatalf("%s = %#v, want the user's %#v", k, fv, uv)
			}
		}
		for k, dv := range a {
			if _, set := b[k]; !set && !reflect.DeepEqual(final[k], dv) {
				t.Fatalf("%s = %#v, want the chart's default %#v", k, final[k], dv)
			}
		}
	})
}

// checkLayered asserts that out is b laid over a by Helm's rule for
// successive -f files, at key path prefix.
func checkLayered(t *testing.T, prefix string, a, b, out map[string]any) {
	t.Helper()
	for k, bv := range b {
		path := joinKey(prefix, k)
		ov, ok := out[k]
		if !ok {
			t.Fatalf("%s: set by the second file %#v, missing from the result", path, bv)
		}
		bm, bMap := bv.(map[string]any)
		am, aMap := a[k].(map[string]any)
		if bMap && aMap {
			om, ok := ov.(map[string]any)
			if !ok {
				t.Fatalf("%s: both files hold maps, result %#v is not one", path, ov)
			}
			checkLayered(t, path, am, bm, om)
			continue
		}
		if !reflect.DeepEqual(ov, bv) {
			t.Fatalf("%s = %#v, want the second file's %#v (later wins)", path, ov, bv)
		}
	}
	for k, av := range a {
		if _, inB := b[k]; !inB && !reflect.DeepEqual(out[k], av) {
			t.Fatalf("%s = %#v, want the first file's %#v", joinKey(prefix, k), out[k], av)
		}
	}
	for k, ov := range out {
		_, inA := a[k]
		_, inB := b[k]
		if !inA && !inB {
			t.Fatalf("%s = %#v is in neither file", joinKey(prefix, k), ov)
		}
	}
}

// mentionsAny says whether a --set expression could name one of the
// top-level keys of m: Helm's parser reads a key as a run of the
// expression's runes (invalid UTF-8 read as U+FFFD), a backslash escaping
// the rune after it, so a key it reads is a substring of the expression
// with escapes removed, or of the expression itself.
func mentionsAny(expr string, m map[string]any) bool {
	rs := []rune(expr)
	var unescaped []rune
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
		}
		unescaped = append(unescaped, rs[i])
	}
	for k := range m {
		if strings.Contains(string(rs), k) || strings.Contains(string(unescaped), k) {
			return true
		}
	}
	return false
}
