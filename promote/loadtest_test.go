package promote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// loopbackServer starts a real HTTP server on 127.0.0.1 behaving as kind
// says and returns its URL; "down" returns the URL of a closed listener.
func loopbackServer(t testing.TB, kind string) string {
	t.Helper()
	var n atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch kind {
		case "slow":
			time.Sleep(60 * time.Millisecond)
		case "failing":
			if n.Add(1)%5 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(handler)
	if kind == "down" {
		srv.Close()
		return srv.URL + "/"
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestLoadGate(t *testing.T) {
	var cases []struct {
		Name     string            `json:"name"`
		Server   string            `json:"server"`
		URL      string            `json:"url"`
		Rate     string            `json:"rate"`
		Duration string            `json:"duration"`
		SLO      map[string]any    `json:"slo"`
		Verdict  ferry.Verdict     `json:"verdict"`
		Reason   string            `json:"reason"`
		Figures  map[string]string `json:"figures"`
		P95      string            `json:"p95AtLeast"`
	}
	loadYAML(t, "loadtest.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			url := tc.URL
			if tc.Server != "none" {
				url = loopbackServer(t, tc.Server)
			}
			rate, err := config.ParseRate(tc.Rate)
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.LoadTestGate{URLs: []string{url}, Method: http.MethodGet, Rate: rate, Duration: mustDuration(t, tc.Duration), Timeout: 2 * time.Second}
			if v, ok := tc.SLO["p95"].(string); ok {
				cfg.SLO.P95 = mustDuration(t, v)
			}
			if v, ok := tc.SLO["successRate"].(float64); ok {
				cfg.SLO.SuccessRate = config.Percent(v)
			}
			if v, ok := tc.SLO["minRequests"].(float64); ok {
				cfg.SLO.MinRequests = int(v)
			}
			g := LoadGate(context.Background(), cfg)
			host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			pattern := strings.NewReplacer("{url}", regexp.QuoteMeta(url), "{host}", regexp.QuoteMeta(host)).Replace(tc.Reason)
			re := regexp.MustCompile(pattern)
			if g.Gate != "loadTest" || g.Verdict != tc.Verdict || !re.MatchString(g.Reason) {
				t.Fatalf("LoadGate = %s %q\nwant %s matching %s", g.Verdict, g.Reason, tc.Verdict, pattern)
			}
			figures := map[string]string{}
			for _, f := range g.Figures {
				figures[f.Name] = f.Value
			}
			for name, want := range tc.Figures {
				if figures[name] != want {
					t.Errorf("figure %s = %q, want %q (all: %v)", name, figures[name], want, figures)
				}
			}
			if tc.P95 != "" {
				p95, err := time.ParseDuration(strings.TrimSuffix(figures["p95"], "ms") + "ms")
				if err != nil || p95 < mustDuration(t, tc.P95) {
					t.Errorf("p95 = %s, want at least %s (the server's delay)", figures["p95"], tc.P95)
				}
			}
		})
	}
}

func TestJudgeLoadNeverPassesOnNoData(t *testing.T) {
	g := judgeLoad(ferry.GateResult{Gate: "loadTest"}, config.SLO{}, vegeta.Metrics{}, nil)
	if g.Verdict != ferry.VerdictFailed || g.Reason != "no request was sent" {
		t.Fatalf("judgeLoad(no results) = %s %q", g.Verdict, g.Reason)
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
