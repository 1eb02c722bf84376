package deploy

import (
	"context"
	"os"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// The staging render is created in a real API server, which normalises
// quantities (4000m → 4, 1.6Ti → 1759218604441600m), defaults fields and
// turns stringData into data; the diff must see no change, then exactly the
// Secret change made behind ferry's back, masked.
func TestLiveDiffOnRealAPIServer(t *testing.T) {
	c := localcluster.Require(t, cluster)
	ns := c.Namespace(t, nil)
	ctx := context.Background()
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	live, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := live.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.KubeVersion != "v1.36.3" {
		t.Errorf("kube version = %q, want v1.36.3", caps.KubeVersion)
	}
	r, err := Render(ctx, os.DirFS(repoDir), RenderSpec{Chart: "charts/app", Release: "web", Namespace: ns,
		ValuesFiles: []string{"envs/common.yaml", "envs/values-staging.yaml"}, Set: []string{"storage.size=1.6Ti"},
		Capabilities: caps})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range r.Objects {
		u := &unstructured.Unstructured{Object: copyValues(o.Content).(map[string]any)}
		u.SetNamespace(ns)
		gvr := resourceOf(t, o.ObjectRef)
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", o.ObjectRef, err)
		}
	}

	objs, err := live.LiveObjects(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(r.Objects) {
		t.Fatalf("read %d live objects, want %d", len(objs), len(r.Objects))
	}
	pvc := findObject(objs, "PersistentVolumeClaim")
	if got := mapAt(pvc, "spec", "resources", "requests")["storage"]; got != "1759218604441600m" {
		t.Errorf("API server stored 1.6Ti as %v", got)
	}
	if d := Diff(objs, r); !d.Empty() {
		t.Errorf("diff of a just-created release:\n%s", d)
	}

	secrets := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(ns)
	s, err := secrets.Get(ctx, "web-app-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Object["data"] = map[string]any{"password": "Y2hhbmdlZC1ieS1oYW5k"}
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if objs, err = live.LiveObjects(ctx, r); err != nil {
		t.Fatal(err)
	}
	want := "~ Secret/" + ns + "/web-app-db\n    ~ data.password: <masked> -> <masked>\n"
	if got := Diff(objs, r).String(); got != want {
		t.Errorf("diff after changing the Secret:\n got %q\nwant %q", got, want)
	}
}

// resourceOf maps the kinds of the test chart to their resources.
func resourceOf(t *testing.T, ref ferry.ObjectRef) schema.GroupVersionResource {
	t.Helper()
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	plural := map[string]string{
		"Secret": "secrets", "ConfigMap": "configmaps", "PersistentVolumeClaim": "persistentvolumeclaims",
		"Service": "services", "Deployment": "deployments", "HorizontalPodAutoscaler": "horizontalpodautoscalers",
	}[ref.Kind]
	if plural == "" {
		t.Fatalf("no resource for %s", ref.Kind)
	}
	return gv.WithResource(plural)
}
