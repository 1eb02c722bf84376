package promote

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Load-test bounds, whatever the config says.
const (
	maxLoadRequests = 1_000_000 // requests in one run
	maxLoadWorkers  = 1000      // concurrent requests
	firstErrorsKept = 3
)

// LoadGate sends cfg.Rate requests for cfg.Duration to cfg.URLs (in turn)
// and checks the outcome against cfg.SLO. The run is bounded: exactly
// rate × duration requests are sent at most, and it stops at duration plus
// one request timeout, or when ctx ends. It never passes on no data: no
// requests, all requests failed, or fewer successes than SLO.MinRequests
// fail it. Connection errors count as failed requests. Latency percentiles
// are over every request, as vegeta reports them.
func LoadGate(ctx context.Context, cfg config.LoadTestGate) ferry.GateResult {
	g := ferry.GateResult{Gate: "loadTest", Started: time.Now()}
	total, err := loadRequests(cfg)
	if err != nil {
		g.Verdict, g.Reason, g.Ended = ferry.VerdictError, err.Error(), time.Now()
		return g
	}
	m, firstErrors := runLoad(ctx, cfg, total)
	g.Ended = time.Now()
	if ctx.Err() != nil {
		g.Verdict, g.Reason = ferry.VerdictError, "load test stopped: "+ctx.Err().Error()
		return g
	}
	return judgeLoad(g, cfg.SLO, m, firstErrors)
}

// loadRequests checks the settings and says how many requests to send.
func loadRequests(cfg config.LoadTestGate) (uint64, error) {
	switch {
	case len(cfg.URLs) == 0:
		return 0, fmt.Errorf("load test has no URLs")
	case cfg.Rate.Freq <= 0 || cfg.Rate.Per <= 0:
		return 0, fmt.Errorf("load test rate %s is not positive", cfg.Rate)
	case cfg.Duration <= 0:
		return 0, fmt.Errorf("load test duration %s is not positive", cfg.Duration)
	case cfg.Timeout <= 0:
		return 0, fmt.Errorf("load test request timeout %s is not positive", cfg.Timeout)
	}
	for _, u := range cfg.URLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return 0, fmt.Errorf("load test URL %q is not http or https", u)
		}
	}
	n := math.Floor(cfg.Rate.PerSecond()*cfg.Duration.Seconds() + 1e-9)
	if n < 1 {
		return 0, fmt.Errorf("load test at %s for %s sends no request", cfg.Rate, cfg.Duration)
	}
	if n > maxLoadRequests {
		return 0, fmt.Errorf("load test at %s for %s would send %.0f requests, more than the %d allowed", cfg.Rate, cfg.Duration, n, maxLoadRequests)
	}
	return uint64(n), nil
}

// countedPacer paces like vegeta's constant pacer and stops after total hits,
// so a run sends an exact, bounded number of requests.
type countedPacer struct {
	vegeta.ConstantPacer
	total uint64
}

func (p countedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.total {
		return 0, true
	}
	return p.ConstantPacer.Pace(elapsed, hits)
}

// runLoad runs the attack and returns its metrics and first distinct errors.
func runLoad(ctx context.Context, cfg config.LoadTestGate, total uint64) (vegeta.Metrics, []string) {
	method := cfg.Method
	if method == "" {
		method = http.MethodGet
	}
	targets := make([]vegeta.Target, len(cfg.URLs))
	for i, u := range cfg.URLs {
		targets[i] = vegeta.Target{Method: method, URL: u}
	}
	atk := vegeta.NewAttacker(
		vegeta.Timeout(cfg.Timeout),
		vegeta.MaxWorkers(maxLoadWorkers),
		vegeta.MaxBody(0),
		vegeta.KeepAlive(true),
	)
	bound, cancel := context.WithTimeout(ctx, cfg.Duration+cfg.Timeout)
	defer cancel()
	go func() {
		<-bound.Done()
		atk.Stop()
	}()
	pacer := countedPacer{ConstantPacer: vegeta.ConstantPacer{Freq: cfg.Rate.Freq, Per: cfg.Rate.Per}, total: total}
	var m vegeta.Metrics
	for res := range atk.Attack(vegeta.NewStaticTargeter(targets...), pacer, 0, "ferry") {
		m.Add(res)
	}
	m.Close()
	n := min(len(m.Errors), firstErrorsKept)
	return m, append([]string(nil), m.Errors[:n]...)
}

// judgeLoad turns the metrics into a verdict whose reason carries them.
func judgeLoad(g ferry.GateResult, slo config.SLO, m vegeta.Metrics, firstErrors []string) ferry.GateResult {
	successes := uint64(math.Round(m.Success * float64(m.Requests)))
	g.Figures = []ferry.Figure{
		{Name: "requests", Value: strconv.FormatUint(m.Requests, 10)},
		{Name: "successes", Value: strconv.FormatUint(successes, 10)},
		{Name: "rate", Value: fmt.Sprintf("%.1f/s", m.Rate)},
		{Name: "success", Value: fmt.Sprintf("%.1f%%", m.Success*100)},
		{Name: "p50", Value: formatLatency(m.Latencies.P50)},
		{Name: "p95", Value: formatLatency(m.Latencies.P95)},
		{Name: "p99", Value: formatLatency(m.Latencies.P99)},
	}
	if len(firstErrors) > 0 {
		g.Figures = append(g.Figures, ferry.Figure{Name: "first errors", Value: strings.Join(firstErrors, " | ")})
	}
	if m.Requests == 0 {
		g.Verdict, g.Reason = ferry.VerdictFailed, "no request was sent"
		return g
	}
	if successes == 0 {
		g.Verdict = ferry.VerdictFailed
		g.Reason = fmt.Sprintf("all %d requests failed; first errors: %s", m.Requests, strings.Join(firstErrors, "; "))
		return g
	}
	summary := fmt.Sprintf("%d requests at %.1f/s, %.1f%% success, p50 %s, p95 %s, p99 %s",
		m.Requests, m.Rate, m.Success*100, formatLatency(m.Latencies.P50), formatLatency(m.Latencies.P95), formatLatency(m.Latencies.P99))
	var misses []string
	if slo.MinRequests > 0 && successes < uint64(slo.MinRequests) {
		misses = append(misses, fmt.Sprintf("only %d successful requests, fewer than the minimum %d", successes, slo.MinRequests))
	}
	if m.Success*100 < float64(slo.SuccessRate) {
		misses = append(misses, fmt.Sprintf("success %.1f%% below %s", m.Success*100, slo.SuccessRate))
	}
	if slo.P95 > 0 && m.Latencies.P95 > slo.P95 {
		misses = append(misses, fmt.Sprintf("p95 %s over %s", formatLatency(m.Latencies.P95), slo.P95))
	}
	if slo.P99 > 0 && m.Latencies.P99 > slo.P99 {
		misses = append(misses, fmt.Sprintf("p99 %s over %s", formatLatency(m.Latencies.P99), slo.P99))
	}
	if len(misses) > 0 {
		g.Verdict, g.Reason = ferry.VerdictFailed, summary+": "+strings.Join(misses, "; ")
		if len(firstErrors) > 0 {
			g.Reason += "; first errors: " + strings.Join(firstErrors, "; ")
		}
		return g
	}
	g.Verdict, g.Reason = ferry.VerdictPassed, summary
	return g
}

// formatLatency writes a latency in milliseconds with one decimal.
func formatLatency(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
