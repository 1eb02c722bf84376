package config

import (
	"reflect"
	"strings"
	"time"
)

// field is one key of a config struct, as its tags describe it.
type field struct {
	key      string
	index    int
	def      string
	hasDef   bool
	enum     []string
	required bool
}

// fieldsOf lists the keys of a config struct in declaration order. Fields
// without a yaml tag (such as Config.src) are not keys.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || !sf.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(tag, ",")
		f := field{key: key, index: i, required: sf.Tag.Get("required") == "true"}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		fs = append(fs, f)
	}
	return fs
}

// keysOf lists the keys of fields, for suggestions and messages.
func keysOf(fs []field) []string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	rateType     = reflect.TypeFor[Rate]()
	percentType  = reflect.TypeFor[Percent]()
)

// isTextScalar reports whether values of t are written as one piece of text
// that ferry parses itself (a duration, a rate, a percentage).
func isTextScalar(t reflect.Type) bool {
	return t == durationType || t == rateType || t == percentType
}
