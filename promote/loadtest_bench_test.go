package promote

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

// BenchmarkLoadGateRate runs the load gate at 500 requests/s for 5 s against
// a loopback server and reports how close the achieved rate comes to the
// target (goal: within 2 %) and the gate's own overhead: the wall time it
// takes beyond the attack's duration (setup, draining, summarising).
func BenchmarkLoadGateRate(b *testing.B) {
	const target = 500
	url := loopbackServer(b, "fast")
	cfg := config.LoadTestGate{
		URLs:     []string{url},
		Method:   http.MethodGet,
		Rate:     config.Rate{Freq: target, Per: time.Second},
		Duration: 5 * time.Second,
		Timeout:  2 * time.Second,
		SLO:      config.SLO{SuccessRate: 99},
	}
	var ratio, overhead float64
	for b.Loop() {
		start := time.Now()
		g := LoadGate(context.Background(), cfg)
		elapsed := time.Since(start)
		if g.Reason == "" || !strings.HasPrefix(g.Reason, "2500 requests") {
			b.Fatalf("load gate: %s %s", g.Verdict, g.Reason)
		}
		for _, f := range g.Figures {
			if f.Name == "rate" {
				achieved, err := strconv.ParseFloat(strings.TrimSuffix(f.Value, "/s"), 64)
				if err != nil {
					b.Fatal(err)
				}
				ratio = achieved / target
			}
		}
		overhead = float64(elapsed-cfg.Duration) / float64(time.Millisecond)
	}
	b.ReportMetric(ratio, "achieved/target")
	b.ReportMetric(overhead, "overhead-ms")
}
