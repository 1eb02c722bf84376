package reconciler

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// Values of the result label of ferry_git_poll_total.
const (
	pollChanged   = "changed"
	pollUnchanged = "unchanged"
	pollError     = "error"
)

// gateNames are the gates that report results, for initialising
// ferry_gate_duration_seconds.
var gateNames = []string{"render", "policy", "quotaFit", "window", ferry.GateApproval, "health", "loadTest"}

// metrics are the daemon's Prometheus metrics, registered on the Registerer
// passed in (never the global one).
type metrics struct {
	promotions    *prometheus.CounterVec
	promotionTime *prometheus.HistogramVec
	gateTime      *prometheus.HistogramVec
	gitPolls      *prometheus.CounterVec
	outboxPending prometheus.Gauge
	leader        prometheus.Gauge

	mu sync.Mutex
	// outboxByPipeline holds each pipeline's undelivered count, summed
	// into outboxPending.
	outboxByPipeline map[string]int
}

func newMetrics(reg prometheus.Registerer, cfg *config.Config) (*metrics, error) {
	m := &metrics{
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_promotions_total",
			Help: "Promotions that ended, by pipeline, environment and final phase.",
		}, []string{"pipeline", "env", "result"}),
		promotionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_promotion_duration_seconds",
			Help:    "Time from a promotion's creation to its end.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"pipeline", "env"}),
		gateTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_gate_duration_seconds",
			Help:    "Time a gate took to reach its verdict.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
		}, []string{"gate", "result"}),
		gitPolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_git_poll_total",
			Help: "Reads of a pipeline's branch head, by outcome.",
		}, []string{"pipeline", "result"}),
		outboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_chat_outbox_pending",
			Help: "Chat events recorded but not yet delivered.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_leader",
			Help: "1 while this replica holds the leader lease and acts, else 0.",
		}),
		outboxByPipeline: map[string]int{},
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	for _, c := range []prometheus.Collector{m.promotions, m.promotionTime, m.gateTime, m.gitPolls, m.outboxPending, m.leader} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	registerTestMetrics(reg)
	results := []ferry.Phase{ferry.PhaseSucceeded, ferry.PhaseFailed, ferry.PhaseRolledBack, ferry.PhaseSuperseded, ferry.PhaseRejected}
	for _, p := range cfg.Pipelines {
		for _, r := range []string{pollChanged, pollUnchanged, pollError} {
			m.gitPolls.WithLabelValues(p.Name, r)
		}
		for _, e := range p.Environments {
			m.promotionTime.WithLabelValues(p.Name, e.Name)
			for _, r := range results {
				m.promotions.WithLabelValues(p.Name, e.Name, string(r))
			}
		}
	}
	for _, g := range gateNames {
		for _, v := range []ferry.Verdict{ferry.VerdictPassed, ferry.VerdictFailed, ferry.VerdictPending, ferry.VerdictError} {
			m.gateTime.WithLabelValues(g, string(v))
		}
	}
	return m, nil
}

// ended records a promotion that reached a terminal phase.
func (m *metrics) ended(p ferry.Promotion) {
	m.promotions.WithLabelValues(p.Pipeline, p.Environment, string(p.Phase)).Inc()
	if !p.Ended.IsZero() && !p.Created.IsZero() {
		m.promotionTime.WithLabelValues(p.Pipeline, p.Environment).Observe(p.Ended.Sub(p.Created).Seconds())
	}
}

// gates records how long each decided gate took.
func (m *metrics) gates(gs []ferry.GateResult) {
	for _, g := range gs {
		if g.Started.IsZero() || g.Ended.IsZero() {
			continue
		}
		m.gateTime.WithLabelValues(g.Gate, string(g.Verdict)).Observe(g.Ended.Sub(g.Started).Seconds())
	}
}

// outbox sets the number of undelivered events of one pipeline.
func (m *metrics) outbox(pipeline string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outboxByPipeline[pipeline] = n
	total := 0
	for _, v := range m.outboxByPipeline {
		total += v
	}
	m.outboxPending.Set(float64(total))
}
