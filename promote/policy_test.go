package promote

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"sigs.k8s.io/yaml"
)

// loadManifest reads a multi-document manifest from testdata/policy into
// objects, the way render hands them over.
func loadManifest(t *testing.T, name string) []ferry.Object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "policy", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []ferry.Object
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var content map[string]any
		if err := yaml.Unmarshal(doc, &content); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		meta, _ := content["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		n, _ := meta["name"].(string)
		out = append(out, ferry.Object{ObjectRef: ferry.ObjectRef{
			APIVersion: content["apiVersion"].(string), Kind: content["kind"].(string), Namespace: ns, Name: n,
		}, Content: content})
	}
	return out
}

func TestPolicyCheck(t *testing.T) {
	var cases []struct {
		Name     string            `json:"name"`
		Manifest string            `json:"manifest"`
		Policy   config.PolicyGate `json:"policy"`
		Verdict  ferry.Verdict     `json:"verdict"`
		Reason   string            `json:"reason"`
	}
	loadYAML(t, "policy.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			p, err := NewPolicy(tc.Policy)
			if err != nil {
				t.Fatal(err)
			}
			g := p.Check(ferry.Rendered{Release: "web", Namespace: "prod", Objects: loadManifest(t, tc.Manifest)})
			if g.Gate != "policy" || g.Verdict != tc.Verdict || g.Reason != tc.Reason {
				t.Fatalf("Check = %s\n%s\nwant %s\n%s", g.Verdict, g.Reason, tc.Verdict, tc.Reason)
			}
		})
	}
}

func TestNewPolicyErrors(t *testing.T) {
	var cases []struct {
		Name   string            `json:"name"`
		Policy config.PolicyGate `json:"policy"`
		Want   string            `json:"want"`
	}
	loadYAML(t, "policy_errors.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := NewPolicy(tc.Policy)
			if err == nil || err.Error() != tc.Want {
				t.Fatalf("NewPolicy error =\n%v\nwant\n%s", err, tc.Want)
			}
		})
	}
}
