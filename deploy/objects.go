package deploy

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const sourcePrefix = "# Source: "

// manifestObjects decodes a Helm manifest (documents each headed by
// "# Source: template") into objects, in manifest order. Documents are split
// by the reader Helm's kube client uses, so a block scalar that ends a
// document keeps its final newline just as the API server receives it.
// Empty documents, which Helm keeps when a template renders only comments,
// are skipped.
func manifestObjects(manifest string) ([]ferry.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var out []ferry.Object
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split manifest: %w", err)
		}
		obj, ok, err := decodeObject(string(doc), "")
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, obj)
		}
	}
}

// decodeObject decodes one YAML document; template names its source when the
// document carries no "# Source:" header.
func decodeObject(doc, template string) (ferry.Object, bool, error) {
	for _, line := range strings.SplitN(doc, "\n", 3) {
		if strings.HasPrefix(line, sourcePrefix) {
			template = strings.TrimPrefix(line, sourcePrefix)
			break
		}
	}
	content := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &content); err != nil {
		return ferry.Object{}, false, fmt.Errorf("decode object from %s: %w", template, err)
	}
	if len(content) == 0 {
		return ferry.Object{}, false, nil
	}
	obj, err := newObject(template, content)
	return obj, err == nil, err
}

// newObject names a decoded document, which must say what it is.
func newObject(template string, content map[string]any) (ferry.Object, error) {
	ref := refOf(content)
	var missing []string
	if ref.APIVersion == "" {
		missing = append(missing, "apiVersion")
	}
	if ref.Kind == "" {
		missing = append(missing, "kind")
	}
	if len(missing) > 0 {
		// Helm's template command lets such a document through, and the
		// install then fails with "kind not set" naming no template: say
		// which template, before anything is applied.
		return ferry.Object{}, fmt.Errorf("%s renders an object without %s (name %q)", template, strings.Join(missing, " and "), ref.Name)
	}
	return ferry.Object{ObjectRef: ref, Template: template, Content: content}, nil
}

// refOf names an object by the fields of its content.
func refOf(content map[string]any) ferry.ObjectRef {
	ref := ferry.ObjectRef{}
	ref.APIVersion, _ = content["apiVersion"].(string)
	ref.Kind, _ = content["kind"].(string)
	if md, ok := content["metadata"].(map[string]any); ok {
		ref.Name, _ = md["name"].(string)
		ref.Namespace, _ = md["namespace"].(string)
	}
	return ref
}
