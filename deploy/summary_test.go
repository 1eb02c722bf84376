package deploy

import (
	"os"
	"reflect"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
)

func TestSummarizeCountsAsQuotaDoes(t *testing.T) {
	tests := []struct {
		name string
		file string
		want ferry.ResourceSummary
	}{
		{
			// Pod requests: max(app 500m + sidecar 100m, setup 2 + sidecar 100m) + overhead 50m;
			// the app's request comes from its limit, as the API server defaults it.
			name: "sidecar, init container, overhead and requests defaulted from limits",
			file: "testdata/summary/sidecar-pod.yaml",
			want: ferry.ResourceSummary{
				Requested: ferry.ResourceList{"pods": 1, "requests.cpu": 2150, "requests.memory": 335544320,
					"limits.cpu": 550, "limits.memory": 268435456},
				AtMaxScale: ferry.ResourceList{"pods": 1, "requests.cpu": 2150, "requests.memory": 335544320,
					"limits.cpu": 550, "limits.memory": 268435456},
			},
		},
		{
			name: "StatefulSet claims per replica, Job pods capped by completions, quota from the chart",
			file: "testdata/summary/statefulset-quota.yaml",
			want: ferry.ResourceSummary{
				Requested: ferry.ResourceList{"pods": 5, "requests.cpu": 5000, "requests.memory": 6442450944,
					"limits.cpu": 9000, "limits.memory": 12884901888,
					"persistentvolumeclaims": 3, "requests.storage": 322122547200},
				AtMaxScale: ferry.ResourceList{"pods": 5, "requests.cpu": 5000, "requests.memory": 6442450944,
					"limits.cpu": 9000, "limits.memory": 12884901888,
					"persistentvolumeclaims": 3, "requests.storage": 322122547200},
				Quota:       ferry.ResourceList{"requests.cpu": 20000, "requests.memory": 68719476736, "pods": 50},
				QuotaSource: "rendered",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := manifestObjects(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := Summarize(objs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("summary:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The prod render: 4 replicas whose pod asks max(app 500m, init 1) CPU,
// a hook Job whose requests default from its limits, a 1.6Ti claim, and an
// HPA that can scale to 10.
func TestRenderSummarizesProd(t *testing.T) {
	r, err := renderCase{chart: "charts/app", release: "web", namespace: "shop",
		files: []string{"envs/values-prod.yaml"}}.render(t)
	if err != nil {
		t.Fatal(err)
	}
	want := ferry.ResourceSummary{
		Requested: ferry.ResourceList{"pods": 5, "requests.cpu": 4500, "requests.memory": 2214592512,
			"limits.cpu": 8500, "limits.memory": 4362076160,
			"persistentvolumeclaims": 1, "requests.storage": 1759218604442},
		AtMaxScale: ferry.ResourceList{"pods": 11, "requests.cpu": 10500, "requests.memory": 5435817984,
			"limits.cpu": 20500, "limits.memory": 10804527104,
			"persistentvolumeclaims": 1, "requests.storage": 1759218604442},
	}
	if !reflect.DeepEqual(r.Summary, want) {
		t.Errorf("summary:\n got %+v\nwant %+v", r.Summary, want)
	}
}
