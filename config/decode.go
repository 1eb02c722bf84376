package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes decoded, aliases expanded, so that a hostile
// file (aliases of aliases) cannot exhaust memory; a real config has a few
// hundred. Nesting needs no limit: the config types are a few levels deep and
// decoding stops where the file's shape departs from them.
const maxNodes = 20_000

// decoder fills config structs from a YAML node tree, strictly: every key
// must be known, every value must have the right shape. It collects every
// problem instead of stopping at the first.
type decoder struct {
	file     string
	lines    map[string]int
	problems Problems
	visited  int
	tooLarge bool
}

func (d *decoder) add(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// value decodes n into v, which must be settable. A null leaves v at its
// zero value.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil || d.tooLarge {
		return
	}
	d.visited++
	if d.visited > maxNodes {
		d.tooLarge = true
		d.add(n.Line, path, "too large after expanding aliases")
		return
	}
	if isNull(n) {
		return
	}
	t := v.Type()
	if isTextScalar(t) {
		d.textScalar(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := reflect.New(t.Elem())
		applyDefaults(elem.Elem())
		d.value(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.list(n, v, path)
	case reflect.Map:
		d.stringMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.add(n.Line, path, "expected text, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.add(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			d.add(n.Line, path, "expected a whole number, got %s", describe(n))
			return
		}
		v.SetInt(int64(i))
	default:
		panic(fmt.Sprintf("config: no decoding for %s at %s", t, path))
	}
}

// textScalar parses the durations, rates and percentages written as text.
func (d *decoder) textScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, path, "expected text, got %s", describe(n))
		return
	}
	var (
		parsed any
		err    error
	)
	switch v.Type() {
	case durationType:
		parsed, err = parseDuration(n.Value)
	case rateType:
		parsed, err = ParseRate(n.Value)
	case percentType:
		parsed, err = ParsePercent(n.Value)
	}
	if err != nil {
		d.add(n.Line, path, "%s", err.Error())
		return
	}
	v.Set(reflect.ValueOf(parsed))
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.add(n.Line, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = resolve(item).Line
		applyDefaults(s.Index(i))
		d.value(item, s.Index(i), p)
	}
	v.Set(s)
}

// simpleKey matches map keys that can follow a dot in a path unquoted.
var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func mapKeyPath(path, key string) string {
	if simpleKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, kv := range d.pairs(n, path) {
		p := mapKeyPath(path, kv.key.Value)
		d.lines[p] = kv.key.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(kv.val, elem, p)
		m.SetMapIndex(reflect.ValueOf(kv.key.Value), elem)
	}
	v.Set(m)
}

// pair is one key and its value in a mapping, merge keys expanded.
type pair struct{ key, val *yaml.Node }

// pairs lists the entries of a mapping with `<<` merge keys expanded
// (explicit keys win over merged ones) and reports repeated or non-text keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.mergeSources(resolve(val), path)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, path, "keys must be text, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, mapKeyPath(path, k.Value), "key %q repeats the one on line %d", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{k, val})
	}
	for _, m := range merged {
		if _, ok := seen[m.key.Value]; !ok {
			seen[m.key.Value] = m.key.Line
			explicit = append(explicit, m)
		}
	}
	return explicit
}

// mergeSources lists the entries a `<<` key brings in: one mapping or a
// list of them, earlier mappings winning.
func (d *decoder) mergeSources(val *yaml.Node, path string) []pair {
	d.visited++
	if d.visited > maxNodes {
		return nil
	}
	switch val.Kind {
	case yaml.MappingNode:
		return d.pairs(val, path)
	case yaml.SequenceNode:
		var out []pair
		seen := map[string]bool{}
		for _, item := range val.Content {
			item = resolve(item)
			if item.Kind != yaml.MappingNode {
				d.add(item.Line, path, "a merge (<<) takes mappings, got %s", describe(item))
				continue
			}
			for _, p := range d.pairs(item, path) {
				if !seen[p.key.Value] {
					seen[p.key.Value] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	d.add(val.Line, path, "a merge (<<) takes a mapping, got %s", describe(val))
	return nil
}

// inlineSecrets maps keys people write for a secret to the file key that
// ferry reads the secret from instead.
var inlineSecrets = map[string]string{
	"token":         "tokenFile",
	"password":      "tokenFile",
	"sshKey":        "sshKeyFile",
	"privateKey":    "sshKeyFile",
	"knownHosts":    "knownHostsFile",
	"secret":        "secretFile",
	"signingSecret": "signingSecretFile",
	"apiTokens":     "apiTokensFile",
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	fs := fieldsOf(v.Type())
	present := map[string]bool{}
	for _, kv := range d.pairs(n, path) {
		key := kv.key.Value
		p := joinPath(path, key)
		f, ok := findField(fs, key)
		if !ok {
			// A misspelt key is reported once, not also as a missing one.
			present[d.unknownKey(kv.key, p, v.Type(), fs)] = true
			continue
		}
		present[key] = true
		d.lines[p] = kv.key.Line
		fv := v.Field(f.index)
		before := len(d.problems)
		d.value(kv.val, fv, p)
		if len(d.problems) == before {
			d.checkField(f, fv, resolve(kv.val), p)
		}
	}
	for _, f := range fs {
		if !present[f.key] && f.required {
			d.add(n.Line, joinPath(path, f.key), "missing required key %q", f.key)
		}
	}
}

// checkField applies a field's enum and required tags to a decoded value.
func (d *decoder) checkField(f field, fv reflect.Value, n *yaml.Node, path string) {
	if f.required && (isNull(n) || (fv.Kind() == reflect.String || fv.Kind() == reflect.Slice) && fv.Len() == 0) {
		d.add(n.Line, path, "must not be empty")
		return
	}
	if f.enum == nil || fv.Kind() != reflect.String || fv.String() == "" {
		return
	}
	for _, e := range f.enum {
		if fv.String() == e {
			return
		}
	}
	msg := fmt.Sprintf("%q is not one of %s", fv.String(), strings.Join(f.enum, ", "))
	if s := closest(fv.String(), f.enum); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	d.add(n.Line, path, "%s", msg)
}

// unknownKey reports a key the struct does not have, suggesting the key
// meant, which it returns ("" when it has no suggestion).
func (d *decoder) unknownKey(k *yaml.Node, path string, t reflect.Type, fs []field) string {
	keys := keysOf(fs)
	if fileKey, ok := inlineSecrets[k.Value]; ok {
		if where := secretKeyPath(t, fileKey); where != "" {
			d.add(k.Line, path, "secrets are never written in ferry.yaml: put it in a file only ferry can read and set %s: <path> instead", where)
			return where
		}
	}
	if s := closest(k.Value, keys); s != "" {
		d.add(k.Line, path, "unknown key %q; did you mean %q?", k.Value, s)
		return s
	}
	d.add(k.Line, path, "unknown key %q; known keys: %s", k.Value, strings.Join(keys, ", "))
	return ""
}

// secretKeyPath finds the file key for a secret in struct t or one level
// below it (a token written under source belongs in source.auth.tokenFile).
func secretKeyPath(t reflect.Type, fileKey string) string {
	fs := fieldsOf(t)
	if _, ok := findField(fs, fileKey); ok {
		return fileKey
	}
	for _, f := range fs {
		ft := t.Field(f.index).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !isTextScalar(ft) {
			if _, ok := findField(fieldsOf(ft), fileKey); ok {
				return f.key + "." + fileKey
			}
		}
	}
	return ""
}

func findField(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
