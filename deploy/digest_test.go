package deploy

import (
	"testing"
)

// The digest of fixed inputs is a constant: it must not change between runs,
// machines or Go versions, or every environment would be re-applied.
func TestDigestIsStable(t *testing.T) {
	caps := &Capabilities{KubeVersion: "v1.33.0", Major: "1", Minor: "33", APIVersions: []string{"v1", "apps/v1", "v1"}}
	got := Digest("kind: ConfigMap\n", "web", "shop", caps)
	const want = "sha256:73a68d6e93fc94d0a72ccb69abab2026530266c983aad00a29a22c53e1541c4c"
	if got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	reordered := &Capabilities{KubeVersion: "v1.33.0", Major: "1", Minor: "33", APIVersions: []string{"apps/v1", "v1"}}
	if d := Digest("kind: ConfigMap\n", "web", "shop", reordered); d != got {
		t.Errorf("API version order or duplicates changed the digest: %s", d)
	}
}

func TestDigestFollowsWhatWouldBeApplied(t *testing.T) {
	base := renderCase{chart: "charts/app", release: "web", namespace: "shop", files: []string{"envs/values-dev.yaml"}, kubeVersion: "1.33.0"}
	withMonitor := base
	withMonitor.apiVersions = []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}
	reordered := base
	reordered.files = []string{"envs/values-reordered.yaml"}
	changedValue := base
	changedValue.set = []string{"replicas=2"}
	renamed := base
	renamed.release = "web2"
	otherNamespace := base
	otherNamespace.namespace = "shop2"
	unusedAPI := base
	unusedAPI.apiVersions = []string{"example.test/v1"}

	ref, err := base.render(t)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		c        renderCase
		same     bool
		addsObjs int
	}{
		{"only key order changes", reordered, true, 0},
		{"a value changes", changedValue, false, 0},
		{"the release name changes", renamed, false, 0},
		{"the namespace changes", otherNamespace, false, 0},
		{"the cluster gains an API the chart checks", withMonitor, false, 1},
		{"the cluster gains an API the chart ignores", unusedAPI, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.c.render(t)
			if err != nil {
				t.Fatal(err)
			}
			if (r.Digest == ref.Digest) != tt.same {
				t.Errorf("digest %s vs %s: same = %v, want %v", r.Digest, ref.Digest, r.Digest == ref.Digest, tt.same)
			}
			if got := len(r.Objects) - len(ref.Objects); got != tt.addsObjs {
				t.Errorf("objects added = %d, want %d", got, tt.addsObjs)
			}
		})
	}
}
