package deploy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// SchemaCache keeps compiled values.schema.json files by their content. Helm
// compiles a chart's schema on every render, which was a fifth of a render
// of the vibecode-platform chart; a daemon rendering many environments and
// revisions of one chart compiles each distinct schema once. A schema that
// refers to other documents ($ref to a URL or file) is not cached: Helm
// validates it, loading what it refers to, as before. The cache holds at
// most maxSchemas; a full one drops an entry to take the next. Safe for
// concurrent use.
type SchemaCache struct {
	mu sync.Mutex
	// compiled maps a schema's digest to its compiled form, or to nil for
	// one that cannot be compiled on its own.
	compiled map[[sha256.Size]byte]*jsonschema.Schema
}

// maxSchemas bounds a SchemaCache: a daemon needs one entry per chart and
// schema version it renders now, and a few dozen covers many pipelines.
const maxSchemas = 64

// schemaURL is the name Helm compiles every schema under; its messages
// carry it, and Helm strips it from them.
const schemaURL = "file:///values.schema.json"

// validate checks values against the schemas of chrt and of each subchart
// given values, exactly as chartutil.ValidateAgainstSchema does (same
// recursion, same messages), with the compiled schemas kept.
func (c *SchemaCache) validate(chrt *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if chrt.Schema != nil {
		if err := c.validateOne(chrt.Schema, values); err != nil {
			fmt.Fprintf(&sb, "%s:\n", chrt.Name())
			sb.WriteString(err.Error())
		}
	}
	for _, sub := range chrt.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := c.validate(sub, subValues); err != nil {
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// validateOne validates values against one schema document.
func (c *SchemaCache) validateOne(schemaJSON []byte, values map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %s", r)
		}
	}()
	sch, ok := c.compile(schemaJSON)
	if !ok {
		return chartutil.ValidateAgainstSingleSchema(values, schemaJSON)
	}
	if err := sch.Validate(values); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "jsonschema validation failed with '"+schemaURL+"#'\n") + "\n")
	}
	return nil
}

// compile returns the compiled schema, compiling it on first use; false when
// it cannot be compiled on its own (it refers to other documents, or is
// invalid: Helm then reports it).
func (c *SchemaCache) compile(schemaJSON []byte) (*jsonschema.Schema, bool) {
	key := sha256.Sum256(schemaJSON)
	c.mu.Lock()
	sch, ok := c.compiled[key]
	c.mu.Unlock()
	if ok {
		return sch, sch != nil
	}
	sch = compileAlone(schemaJSON)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.compiled == nil {
		c.compiled = map[[sha256.Size]byte]*jsonschema.Schema{}
	}
	if _, held := c.compiled[key]; !held && len(c.compiled) >= maxSchemas {
		for k := range c.compiled {
			delete(c.compiled, k)
			break
		}
	}
	c.compiled[key] = sch
	return sch, sch != nil
}

// compileAlone compiles a schema document with no loader, so a reference to
// anything outside it fails; nil when it cannot be compiled so.
func compileAlone(schemaJSON []byte) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil
	}
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(jsonschema.SchemeURLLoader{})
	if err := compiler.AddResource(schemaURL, doc); err != nil {
		return nil
	}
	sch, err := compiler.Compile(schemaURL)
	if err != nil {
		return nil
	}
	return sch
}
