package config_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ferry-gitops/ferry/config"
)

// compileSchema compiles config.Schema with a real draft 2020-12 validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("ferry.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("ferry.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlAsJSON reads a YAML file as the JSON value a schema validator sees.
func yamlAsJSON(t *testing.T, file string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(mustRead(t, file), &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaAcceptsExamples(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{"full.yaml", "minimal.yaml", "full.golden.yaml"} {
		if err := s.Validate(yamlAsJSON(t, filepath.Join("testdata", "valid", name))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSchemaRejects checks that invalid files whose mistake is one of shape
// fail the schema too, at the key at fault.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	tests := []struct{ file, at string }{
		{"unknown-key-suggests", "/pipelines/0"},
		{"rate-unparsable", "/pipelines/0/environments/0/gates/loadTest/rate"},
		{"duration-unparsable", "/pipelines/0/source/interval"},
		{"enum-suggests", "/pipelines/0/environments/0/onFailure"},
		{"int-unparsable", "/pipelines/0/environments/0/maxHistory"},
		{"webhook-provider-unknown", "/pipelines/0/source/webhook/provider"},
		{"window-without-duration", "/pipelines/0/environments/1/windows/0"},
	}
	for _, tt := range tests {
		err := s.Validate(yamlAsJSON(t, filepath.Join("testdata", "invalid", tt.file+".yaml")))
		if err == nil || !strings.Contains(err.Error(), "at '"+tt.at+"'") {
			t.Errorf("%s: schema error = %v, want one at %s", tt.file, err, tt.at)
		}
	}
}

// TestSchemaHasEveryKey compares the keys of the Go types with the schema's
// properties, so a key added to the types but not the schema fails here.
func TestSchemaHasEveryKey(t *testing.T) {
	raw, err := config.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var fromTypes, fromSchema []string
	typeKeys(reflect.TypeFor[config.Config](), "", &fromTypes)
	schemaKeys(schema, "", &fromSchema)
	slices.Sort(fromTypes)
	slices.Sort(fromSchema)
	if !slices.Equal(fromTypes, fromSchema) {
		t.Errorf("keys differ\ntypes:  %v\nschema: %v", fromTypes, fromSchema)
	}
	if len(fromTypes) < 80 {
		t.Errorf("only %d keys found; the walk is broken", len(fromTypes))
	}
}

func typeKeys(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[config.Rate]() {
		return
	}
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("yaml")
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(tag, ",")
		*out = append(*out, prefix+key)
		typeKeys(t.Field(i).Type, prefix+key+".", out)
	}
}

func schemaKeys(s map[string]any, prefix string, out *[]string) {
	if items, ok := s["items"].(map[string]any); ok {
		schemaKeys(items, prefix, out)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		schemaKeys(ap, prefix, out)
	}
	props, _ := s["properties"].(map[string]any)
	for k, v := range props {
		*out = append(*out, prefix+k)
		schemaKeys(v.(map[string]any), prefix+k+".", out)
	}
}

// TestFixtureConfig checks the fixture deployment's ferry.yaml against the
// schema and the validator.
func TestFixtureConfig(t *testing.T) {
	file := filepath.Join("..", "fixtures", "vibecode-platform", "ferry.yaml")
	if err := compileSchema(t).Validate(yamlAsJSON(t, file)); err != nil {
		t.Errorf("schema: %v", err)
	}
	c, err := config.Load(file, helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pipeline("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range p.Ordered() {
		names = append(names, e.Name+"→"+e.Namespace)
	}
	if got := strings.Join(names, " "); got != "dev→vibecode-dev staging→vibecode-staging prod→vibecode-production" {
		t.Errorf("environments = %s", got)
	}
}
