package config

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// Patterns of the values ferry parses from text, for the schema.
const (
	durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	ratePattern     = `^[1-9][0-9]*/[sm]$`
	percentPattern  = `^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%$`
)

// Schema returns a JSON Schema (draft 2020-12) of ferry.yaml, generated
// from the Config types so it cannot fall behind them. Editors use it to
// complete and check the file; it checks shapes, while Validate also checks
// relations between keys.
func Schema() ([]byte, error) {
	s := schemaOf(reflect.TypeFor[Config]())
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "ferry.yaml"
	return json.MarshalIndent(s, "", "  ")
}

func schemaOf(t reflect.Type) map[string]any {
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": durationPattern, "description": "a duration such as 500ms, 30s, 5m, 1h30m"}
	case rateType:
		return map[string]any{"type": "string", "pattern": ratePattern, "description": "requests per second or minute: N/s or N/m"}
	case percentType:
		return map[string]any{"type": "string", "pattern": percentPattern, "description": "a percentage such as 99.5%"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for _, f := range fieldsOf(t) {
			fs := schemaOf(t.Field(f.index).Type)
			if f.hasDef {
				fs["default"] = defaultJSON(t.Field(f.index).Type, f.def)
			}
			if f.enum != nil {
				fs["enum"] = f.enum
			}
			if f.required {
				required = append(required, f.key)
			}
			props[f.key] = fs
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if required != nil {
			s["required"] = required
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	}
	panic("config: no schema for " + t.String())
}

// defaultJSON gives a default tag's value as the JSON type of its field.
func defaultJSON(t reflect.Type, def string) any {
	switch t.Kind() {
	case reflect.Int:
		if n, err := strconv.Atoi(def); err == nil {
			return n
		}
	case reflect.Bool:
		if b, err := strconv.ParseBool(def); err == nil {
			return b
		}
	}
	return def
}
