package config

import (
	"fmt"
	"reflect"
	"strconv"
)

// applyDefaults sets the `default` tag of every field of a struct, and of
// the structs nested in it by value, before the file's keys are decoded over
// them. Structs behind pointers get theirs when the file has them. v may be
// any value; only structs are touched.
func applyDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct || isTextScalar(v.Type()) {
		return
	}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.Field(f.index)
		if f.hasDef {
			if err := setText(fv, f.def); err != nil {
				panic(fmt.Sprintf("config: default tag of %s.%s: %v", v.Type(), f.key, err))
			}
			continue
		}
		applyDefaults(fv)
	}
}

// setText sets v from the text of a default tag.
func setText(v reflect.Value, text string) error {
	var (
		parsed any
		err    error
	)
	switch {
	case v.Type() == durationType:
		parsed, err = parseDuration(text)
	case v.Type() == rateType:
		parsed, err = ParseRate(text)
	case v.Type() == percentType:
		parsed, err = ParsePercent(text)
	case v.Kind() == reflect.String:
		parsed = text
	case v.Kind() == reflect.Int:
		parsed, err = strconv.Atoi(text)
	case v.Kind() == reflect.Bool:
		parsed, err = strconv.ParseBool(text)
	default:
		return fmt.Errorf("no default for a %s", v.Type())
	}
	if err != nil {
		return err
	}
	v.Set(reflect.ValueOf(parsed).Convert(v.Type()))
	return nil
}

// applyDerivedDefaults sets the defaults that depend on other keys: an
// environment's namespace and release are named after its pipeline, the
// first environment holds on failure (names that are not valid labels
// derive nothing; they are reported instead) while the others roll back, and a
// policy rule's message is its name.
func (c *Config) applyDerivedDefaults() {
	for i := range c.Pipelines {
		p := &c.Pipelines[i]
		for j := range p.Environments {
			e := &p.Environments[j]
			if dnsLabel(p.Name) && dnsLabel(e.Name) && e.Namespace == "" {
				e.Namespace = p.Name + "-" + e.Name
			}
			if dnsLabel(p.Name) && dnsLabel(e.Name) && e.Release == "" {
				e.Release = p.Name + "-" + e.Name
			}
			if e.OnFailure == "" {
				e.OnFailure = OnFailureRollback
				if e.From == "" {
					e.OnFailure = OnFailureHold
				}
			}
			if pol := e.Gates.Policy; pol != nil {
				for k := range pol.Rules {
					if pol.Rules[k].Message == "" {
						pol.Rules[k].Message = pol.Rules[k].Name
					}
				}
			}
		}
	}
}
