package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Goals of issue 13.
const (
	GoalWebhookP95Ms    = 1000
	GoalApplyRatio      = 1.2
	GoalRenderMs        = 10
	GoalRenderFaster    = 5
	GoalScaleEnvs       = 1000
	GoalScaleSeconds    = 120
	GoalScaleRSSMiB     = 200
	GoalLoadGateRateDev = 0.02
	GoalIdleRSSMiB      = 60
)

// Benchmarks whose metrics make the table's figures, as go test names them.
const (
	benchRenderFixture = "BenchmarkRenderFixtureDev"
	benchApplyFixture  = "BenchmarkApplyFixtureDev"
	benchLoadGate      = "BenchmarkLoadGateRate"
)

// metric finds a benchmark's metrics among the go test runs, and the error
// of the run that should have had it.
func (r *Results) metric(bench string) (map[string]float64, string) {
	errs := []string{}
	for _, g := range r.GoBench {
		if m, ok := g.Metrics[bench]; ok {
			return m, ""
		}
		if g.Err != "" && strings.Contains(g.Command, bench) {
			errs = append(errs, g.Err)
		}
	}
	if len(errs) > 0 {
		return nil, firstLine(errs[0])
	}
	return nil, bench + " did not report"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func verdict(ok bool) string {
	if ok {
		return Met
	}
	return Missed
}

// BuildFigures makes the table's rows from what was measured. A figure
// that was not measured says so, with why, and counts as a miss.
func (r *Results) BuildFigures() {
	var f []Figure

	// Webhook → dev promotion started.
	if e := r.E2E; e != nil && len(e.WebhookMs) > 0 {
		f = append(f, Figure{
			Name:      "webhook push → dev promotion started",
			Value:     fmt.Sprintf("p95 %.0f ms (p50 %.0f, max %.0f) over %d pushes", e.WebhookP95Ms, e.WebhookP50Ms, e.WebhookMaxMs, len(e.WebhookMs)),
			Reference: "—",
			Goal:      fmt.Sprintf("≤ %d ms p95 over 20 pushes", GoalWebhookP95Ms),
			Verdict:   verdict(e.WebhookP95Ms <= GoalWebhookP95Ms && len(e.WebhookMs) >= 20),
			Note: fmt.Sprintf("from sending the signed Gitea webhook to ferry's Created stamp on the dev promotion, poll interval %s so only the webhook could tell ferry; each dev promotion then ran to Succeeded (mean %.1f s: policy, apply, health, load test) before the next push",
				e.PushesPoll, e.DevPromotionSeconds),
		})
	} else {
		f = append(f, notMeasured("webhook push → dev promotion started", "≤ 1 s p95 over 20 pushes", r.E2EError))
	}

	// Push → dev healthy vs helm upgrade --install --wait.
	if m, err := r.metric(benchApplyFixture); m != nil {
		ratio := m["ferry/helm"]
		f = append(f, Figure{
			Name:      "push → dev healthy, fixture dev env",
			Value:     fmt.Sprintf("%.2f s = %.2f× helm", m["ferry-s/upgrade"], ratio),
			Reference: fmt.Sprintf("helm upgrade --install --wait: %.2f s", m["helm-s/upgrade"]),
			Goal:      fmt.Sprintf("≤ %.1f×", GoalApplyRatio),
			Verdict:   verdict(ratio > 0 && ratio <= GoalApplyRatio),
			Note: fmt.Sprintf("deploy.%s: ferry's Render + Apply + WaitHealthy vs the Helm CLI from the pinned module, each upgrade changing code-server's CPU request (pods roll), mean of %s upgrades each, alternating order, same cluster; first install %.2f s vs helm %.2f s (%.2f×)",
				benchApplyFixture, benchIterations(r, benchApplyFixture), m["ferry-s/install"], m["helm-s/install"], m["ferry/helm-install"]),
		})
	} else {
		f = append(f, notMeasured("push → dev healthy, fixture dev env", "≤ 1.2×", err))
	}

	// Idle poll.
	if e := r.E2E; e != nil && e.Idle.Seconds > 0 {
		i := e.Idle
		adv := i.PerInterval(float64(i.Advertisements))
		ok := math.Abs(adv-1) <= 0.1 && i.ObjectFetches == 0 && i.ChatPosts == 0 && i.API.OtherWrites == 0
		f = append(f, Figure{
			Name: "idle poll of an unchanged repo, per interval",
			Value: fmt.Sprintf("%.2f ref adv, %.2f fetches, %.2f chat posts, %.2f API writes (+%.2f Lease)",
				adv, i.PerInterval(float64(i.ObjectFetches)), i.PerInterval(float64(i.ChatPosts)), i.PerInterval(i.API.OtherWrites), i.PerInterval(i.API.LeaseWrites)),
			Reference: "—",
			Goal:      "1 adv, 0 fetched, 0 posts, 0 writes besides Lease",
			Verdict:   verdict(ok),
			Note: fmt.Sprintf("counted at the Git server, the Slack-protocol server and the API server (flow-control counts of ferry's own user) over %.0f s = %.1f intervals of %s with the fixture's 3 environments deployed; totals: %d advertisements, %d fetches, %d B served, %d chat calls, %.0f writes + %.0f Lease writes, %.0f reads (%.2f reads per interval)",
				i.Seconds, i.Intervals, i.Poll, i.Advertisements, i.ObjectFetches, i.GitBytes, i.ChatCalls, i.API.OtherWrites, i.API.LeaseWrites, i.API.Reads, i.PerInterval(i.API.Reads)),
		})
	} else {
		f = append(f, notMeasured("idle poll of an unchanged repo, per interval", "1 adv, 0 fetched, 0 posts, 0 writes besides Lease", r.E2EError))
	}

	// Render one environment.
	if m, err := r.metric(benchRenderFixture); m != nil {
		ms, faster := m["ms/render"], m["x-faster"]
		f = append(f, Figure{
			Name:      "render one env (fixture dev) in-process",
			Value:     fmt.Sprintf("%.1f ms = %.1f× faster", ms, faster),
			Reference: fmt.Sprintf("helm template process: %.1f ms", m["helm-ms/render"]),
			Goal:      fmt.Sprintf("≤ %d ms, ≥ %d× faster", GoalRenderMs, GoalRenderFaster),
			Verdict:   verdict(ms <= GoalRenderMs && faster >= GoalRenderFaster),
			Note: fmt.Sprintf("deploy.%s: %.0f objects; CPU %.1f ms per render vs helm's %.1f ms; mean over %s renders, helm over 10 runs",
				benchRenderFixture, m["objects"], m["cpu-ms/render"], m["helm-cpu-ms/render"], benchIterations(r, benchRenderFixture)),
		})
	} else {
		f = append(f, notMeasured("render one env (fixture dev) in-process", "≤ 10 ms, ≥ 5× faster", err))
	}

	// Scale.
	sizes := map[int]bool{}
	for _, s := range r.Scale {
		sizes[s.Envs] = true
		f = append(f, scaleFigure(s))
	}
	skipped := make([]int, 0, len(r.ScaleSkipped))
	for n := range r.ScaleSkipped {
		skipped = append(skipped, n)
	}
	sort.Ints(skipped)
	for _, n := range skipped {
		goal := fmt.Sprintf("(1,000 in ≤ %d s, ≤ %d MiB)", GoalScaleSeconds, GoalScaleRSSMiB)
		if n == GoalScaleEnvs {
			goal = fmt.Sprintf("≤ %d s, ≤ %d MiB RSS", GoalScaleSeconds, GoalScaleRSSMiB)
		}
		sizes[n] = true
		f = append(f, notMeasured(fmt.Sprintf("%d environments, cold start → all healthy", n), goal, r.ScaleSkipped[n]))
	}
	if !sizes[GoalScaleEnvs] {
		f = append(f, notMeasured(fmt.Sprintf("%d environments, cold start → all healthy", GoalScaleEnvs),
			fmt.Sprintf("≤ %d s, ≤ %d MiB RSS", GoalScaleSeconds, GoalScaleRSSMiB), "not asked for in this run (-scale)"))
	}

	// Load gate.
	if m, err := r.metric(benchLoadGate); m != nil {
		ratio := m["achieved/target"]
		f = append(f, Figure{
			Name:      "load gate at 500 rps: achieved / target",
			Value:     fmt.Sprintf("%.4f (%.1f rps)", ratio, ratio*500),
			Reference: "—",
			Goal:      "within 2 %",
			Verdict:   verdict(math.Abs(ratio-1) <= GoalLoadGateRateDev),
			Note:      fmt.Sprintf("promote.%s: 5 s against a loopback server; gate overhead beyond the attack %.0f ms", benchLoadGate, m["overhead-ms"]),
		})
	} else {
		f = append(f, notMeasured("load gate at 500 rps: achieved / target", "within 2 %", err))
	}

	// Idle RSS.
	if e := r.E2E; e != nil && e.Idle.RSSMiB > 0 {
		f = append(f, Figure{
			Name:      "ferry idle RSS, fixture's 3 environments",
			Value:     fmt.Sprintf("%.1f MiB", e.Idle.RSSMiB),
			Reference: "—",
			Goal:      fmt.Sprintf("≤ %d MiB", GoalIdleRSSMiB),
			Verdict:   verdict(e.Idle.RSSMiB <= GoalIdleRSSMiB),
			Note: fmt.Sprintf("VmRSS at the end of the idle window, %.0f s after ferry (re)started with all 3 environments deployed: %.1f MiB anonymous (heap, stacks) and %.1f MiB of the executable's pages (its VmHWM %.1f MiB, %.2f CPU-s in the window); the process before it peaked at %.1f MiB over the %d pushes",
				e.Idle.UptimeSeconds, e.Idle.AnonMiB, e.Idle.FileMiB, e.Idle.PeakRSSMiB, e.Idle.CPUSeconds, e.PushesPeakRSSMiB, len(e.WebhookMs)),
		})
	} else {
		f = append(f, notMeasured("ferry idle RSS, fixture's 3 environments", "≤ 60 MiB", r.E2EError))
	}

	// The other go benchmarks, as they reported, without goals.
	used := map[string]bool{benchRenderFixture: true, benchApplyFixture: true, benchLoadGate: true}
	for _, g := range r.GoBench {
		names := make([]string, 0, len(g.Metrics))
		for n := range g.Metrics {
			if !used[n] {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			f = append(f, Figure{Name: strings.TrimPrefix(g.Package, "./") + "." + n, Value: metricsText(g.Metrics[n]), Reference: "—", Goal: "—", Verdict: NoGoal})
		}
		if g.Err != "" && len(g.Metrics) == 0 {
			f = append(f, Figure{Name: "go test -bench " + g.Package, Value: "failed", Reference: "—", Goal: "—", Verdict: NotMeasured, Note: firstLine(g.Err)})
		}
	}
	r.Figures = f
}

func notMeasured(name, goal, why string) Figure {
	if why == "" {
		why = "not run"
	}
	return Figure{Name: name, Value: "—", Reference: "—", Goal: goal, Verdict: NotMeasured, Note: firstLine(why)}
}

func benchIterations(r *Results, bench string) string {
	for _, g := range r.GoBench {
		if _, ok := g.Metrics[bench]; ok {
			for _, a := range strings.Fields(g.Command) {
				if strings.HasSuffix(a, "x") && len(a) > 1 && a[0] >= '0' && a[0] <= '9' {
					return strings.TrimSuffix(a, "x")
				}
			}
		}
	}
	return "?"
}

// metricsText lists a benchmark's reported metrics, ns/op left out when
// others exist (it is the loop's time, meaningless at 1x).
func metricsText(m map[string]float64) string {
	units := make([]string, 0, len(m))
	for u := range m {
		if u == "ns/op" && len(m) > 1 {
			continue
		}
		units = append(units, u)
	}
	sort.Strings(units)
	parts := make([]string, len(units))
	for i, u := range units {
		parts[i] = fmt.Sprintf("%.4g %s", m[u], u)
	}
	return strings.Join(parts, ", ")
}

func scaleFigure(s ScaleResult) Figure {
	name := fmt.Sprintf("%d environments, cold start → all healthy", s.Envs)
	f := Figure{Name: name, Reference: "—"}
	complete := s.Err == "" && s.Healthy == s.Envs
	if complete {
		f.Value = fmt.Sprintf("%.0f s, peak RSS %.0f MiB", s.Seconds, s.PeakRSSMiB)
	} else {
		f.Value = fmt.Sprintf("%d/%d healthy at %.0f s, peak RSS %.0f MiB", s.Healthy, s.Envs, s.Seconds, s.PeakRSSMiB)
		if s.GoalSeconds > 0 {
			f.Value = fmt.Sprintf("%d/%d healthy at %.0f s (%d/%d at %.0f s), peak RSS %.0f MiB",
				s.HealthyByGoal, s.Envs, s.GoalSeconds, s.Healthy, s.Envs, s.Seconds, s.PeakRSSMiB)
		}
	}
	f.Note = fmt.Sprintf("tiny chart, one namespace each, %d pipelines dev → staging → prod, %d workers; last dev/staging/prod healthy at %.0f/%.0f/%.0f s; ferry used %.1f CPU-s; API requests %.0f (%.0f writes, %.0f Lease writes, %.0f reads); Git %d B served, %d advertisements, %d fetches; cluster start %.1f s (not counted)",
		s.Pipelines, s.Workers, s.TierSeconds["dev"], s.TierSeconds["staging"], s.TierSeconds["prod"], s.CPUSeconds,
		s.API.Total(), s.API.OtherWrites, s.API.LeaseWrites, s.API.Reads, s.GitBytes, s.GitAdvertisements, s.GitNegotiations, s.ClusterStartSecond)
	if s.Err != "" {
		f.Note += "; cut short: " + firstLine(s.Err)
	}
	if s.Envs == GoalScaleEnvs {
		f.Goal = fmt.Sprintf("≤ %d s, ≤ %d MiB RSS", GoalScaleSeconds, GoalScaleRSSMiB)
		f.Verdict = verdict(complete && s.Seconds <= GoalScaleSeconds && s.PeakRSSMiB <= GoalScaleRSSMiB)
	} else {
		// The goal is for 1,000; a smaller run already over its RSS is a miss.
		f.Goal = fmt.Sprintf("(1,000 in ≤ %d s, ≤ %d MiB)", GoalScaleSeconds, GoalScaleRSSMiB)
		switch {
		case !complete:
			f.Verdict = Missed
		case s.PeakRSSMiB > GoalScaleRSSMiB:
			f.Verdict = Missed + " (RSS)"
		default:
			f.Verdict = NoGoal
		}
	}
	return f
}
