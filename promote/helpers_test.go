package promote

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// loadYAML decodes testdata/name into v, strictly.
func loadYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}
