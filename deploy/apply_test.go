package deploy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/internal/localcluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Install, upgrade, then ten applies of the same render: one read each and
// not a single new revision. What Helm recorded is the render, byte for
// byte, with the revision's SHA and subject and its labels.
func TestApplyInstallUpgradeNoop(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ns := "ferry-apply-" + randSuffix(t)
	c, requests := testClient(t, lc, ns, "web", func(tg *Target) {
		tg.CreateNamespace = true
		tg.NamespaceLabels = map[string]string{"pod-security.kubernetes.io/enforce": "baseline", "team": "web"}
	})
	t.Cleanup(func() {
		_ = c.kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	ctx := context.Background()

	v1 := renderInput(t, "web", ns, webChart())
	res := mustApply(t, c, 1, v1)
	if res.Action != ActionInstalled || res.Revision != 1 || len(res.Recovered) != 0 {
		t.Fatalf("first apply = %+v, want installed revision 1", res)
	}
	nsObj, err := c.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"pod-security.kubernetes.io/enforce": "baseline", "team": "web"} {
		if nsObj.Labels[k] != v {
			t.Errorf("namespace label %s = %q, want %q", k, nsObj.Labels[k], v)
		}
	}
	mustBeHealthy(t, c, v1)

	v2 := renderInput(t, "web", ns, webChart("image=registry.local/web:2.0"))
	res = mustApply(t, c, 2, v2)
	if res.Action != ActionUpgraded || res.Revision != 2 {
		t.Fatalf("second apply = %+v, want upgraded revision 2", res)
	}
	verdict := mustBeHealthy(t, c, v2)
	if verdict.Ready != 2 || verdict.Total != 2 || verdict.Reason != "2/2 objects healthy" {
		t.Errorf("verdict = %d/%d %q, want 2/2 \"2/2 objects healthy\"", verdict.Ready, verdict.Total, verdict.Reason)
	}

	requests.take()
	for i := range 10 {
		res := mustApply(t, c, 2, v2)
		if res.Action != ActionUnchanged || res.Revision != 2 {
			t.Fatalf("no-op apply %d = %+v, want unchanged at revision 2", i+1, res)
		}
		got := requests.take()
		want := []string{"GET /api/v1/namespaces/" + ns + "/secrets"}
		if !slices.Equal(got, want) {
			t.Fatalf("no-op apply %d made requests %q, want only %q", i+1, got, want)
		}
	}

	h := historyOf(t, c)
	if got := statuses(h); got != "1:superseded 2:deployed" {
		t.Fatalf("history = %s, want 1:superseded 2:deployed", got)
	}
	for i, want := range []struct {
		r    string
		desc string
		sha  string
	}{
		{v1.Manifest, "ferry install 0000000000000000000000000000000000000001: change 1", "0000000000000000000000000000000000000001"},
		{v2.Manifest, "ferry upgrade 0000000000000000000000000000000000000002: change 2", "0000000000000000000000000000000000000002"},
	} {
		rel := h[i]
		if got := appliedManifest(rel); got != want.r {
			t.Errorf("revision %d: recorded manifest differs from the render at byte %d", rel.Version, diffOffset(got, want.r))
		}
		if rel.Info.Description != want.desc {
			t.Errorf("revision %d description = %q, want %q", rel.Version, rel.Info.Description, want.desc)
		}
		if rel.Labels[LabelRevision] != want.sha {
			t.Errorf("revision %d label %s = %q, want %q", rel.Version, LabelRevision, rel.Labels[LabelRevision], want.sha)
		}
		if _, ok := rel.Labels[LabelGood]; ok {
			t.Errorf("revision %d is marked good before any verification", rel.Version)
		}
		if rel.Chart.Metadata.Name != "web" || rel.Chart.Metadata.Version != "1.4.0" || rel.Chart.Metadata.AppVersion != "2.1" {
			t.Errorf("revision %d chart = %s %s (app %s), want web 1.4.0 (app 2.1)", rel.Version,
				rel.Chart.Metadata.Name, rel.Chart.Metadata.Version, rel.Chart.Metadata.AppVersion)
		}
	}
	if got, want := h[1].Labels[LabelDigest], ShortDigest(v2.Digest); got != want {
		t.Errorf("revision 2 digest label = %q, want %q", got, want)
	}
	if got := h[1].Config["image"]; got != "registry.local/web:2.0" {
		t.Errorf("revision 2 records user value image = %v, want registry.local/web:2.0", got)
	}
}

// A release that applies a CRD makes the cluster's next capabilities read
// fresh, though one was read moments before: a release rendered next that
// checks for the API must find it, not wait out the shared read's age.
func TestApplyingACRDRefreshesCapabilities(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ctx := context.Background()
	ns := lc.Namespace(t, nil)
	c, _ := testClient(t, lc, ns, "crd", nil)
	const api = "capstest.ferry.dev/v1"
	t.Cleanup(func() {
		_ = c.cluster.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Delete(context.Background(), "widgets.capstest.ferry.dev", metav1.DeleteOptions{})
	})
	before, err := c.Cluster().Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(before.APIVersions, api) {
		t.Fatalf("%s served before the CRD was applied", api)
	}
	mustApply(t, c, 1, renderInput(t, "crd", ns, rawCase("crd.yaml")))
	// Wait until the API server serves the API, reading discovery directly.
	deadline := time.Now().Add(30 * time.Second)
	for {
		fresh, err := DiscoverCapabilities(ctx, c.kube.Discovery())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(fresh.APIVersions, api) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server did not serve %s within 30s", api)
		}
		time.Sleep(50 * time.Millisecond)
	}
	after, err := c.Cluster().Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(after.APIVersions, api) {
		t.Errorf("capabilities after the CRD was applied lack %s", api)
	}
}
