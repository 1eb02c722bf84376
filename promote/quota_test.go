package promote

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/ferry-gitops/ferry"
)

// quotaTable stands in for deploy's reader of the live ResourceQuota, which
// needs a cluster; what promote does with the figures is what is tested here.
type quotaTable struct {
	hard ferry.ResourceList
	err  error
}

func (q quotaTable) Quota(context.Context, string) (ferry.ResourceList, ferry.ResourceList, error) {
	return q.hard, nil, q.err
}

func TestQuotaFit(t *testing.T) {
	var cases []struct {
		Name      string                `json:"name"`
		Env       string                `json:"env"`
		Summary   ferry.ResourceSummary `json:"summary"`
		Live      ferry.ResourceList    `json:"live"`
		LiveError string                `json:"liveError"`
		Verdict   ferry.Verdict         `json:"verdict"`
		Reason    string                `json:"reason"`
		Figures   map[string]string     `json:"figures"`
	}
	loadYAML(t, "quota.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var live QuotaReader
			if tc.Live != nil || tc.LiveError != "" {
				q := quotaTable{hard: tc.Live}
				if tc.LiveError != "" {
					q.err = errors.New(tc.LiveError)
				}
				live = q
			}
			r := ferry.Rendered{Release: "web", Namespace: "web-dev", Summary: tc.Summary}
			g := QuotaFit(context.Background(), tc.Env, r, live)
			if g.Gate != "quotaFit" || g.Verdict != tc.Verdict || g.Reason != tc.Reason {
				t.Fatalf("QuotaFit = %s %q\nwant       %s %q", g.Verdict, g.Reason, tc.Verdict, tc.Reason)
			}
			got := map[string]string{}
			for _, f := range g.Figures {
				got[f.Name] = f.Value
			}
			if len(got) == 0 {
				got = nil
			}
			if !maps.Equal(got, tc.Figures) {
				t.Fatalf("figures = %v, want %v", got, tc.Figures)
			}
		})
	}
}
