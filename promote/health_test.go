package promote

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// scriptedHealth stands in for deploy's kstatus health check, which needs a
// cluster: it answers the scripted verdicts in turn and repeats the last.
type scriptedHealth struct {
	mu     sync.Mutex
	script []healthStep
	calls  int
}

type healthStep struct {
	ferry.HealthVerdict
	Error string `json:"error"`
}

func (s *scriptedHealth) Health(context.Context, ferry.Rendered) (ferry.HealthVerdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	step := s.script[min(s.calls, len(s.script)-1)]
	s.calls++
	if step.Error != "" {
		return ferry.HealthVerdict{}, errors.New(step.Error)
	}
	return step.HealthVerdict, nil
}

func TestHealthGate(t *testing.T) {
	var cases []struct {
		Name    string        `json:"name"`
		Timeout string        `json:"timeout"`
		Script  []healthStep  `json:"script"`
		Verdict ferry.Verdict `json:"verdict"`
		Reason  string        `json:"reason"`
		Checks  string        `json:"checks"`
	}
	loadYAML(t, "health.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			timeout, err := time.ParseDuration(tc.Timeout)
			if err != nil {
				t.Fatal(err)
			}
			hc := &scriptedHealth{script: tc.Script}
			g := HealthGate(context.Background(), hc, ferry.Rendered{Release: "web", Namespace: "prod"}, config.HealthGate{Timeout: timeout}, 5*time.Millisecond)
			if g.Gate != "health" || g.Verdict != tc.Verdict || g.Reason != tc.Reason {
				t.Fatalf("HealthGate = %s %q\nwant         %s %q", g.Verdict, g.Reason, tc.Verdict, tc.Reason)
			}
			if tc.Checks != "" && g.Figures[0].Value != tc.Checks {
				t.Fatalf("checks = %s, want %s", g.Figures[0].Value, tc.Checks)
			}
		})
	}
}

func TestHealthGateStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hc := &scriptedHealth{script: []healthStep{{HealthVerdict: ferry.HealthVerdict{Status: ferry.HealthProgressing, Total: 1}}}}
	g := HealthGate(ctx, hc, ferry.Rendered{}, config.HealthGate{Timeout: time.Hour}, time.Hour)
	if g.Verdict != ferry.VerdictError || g.Reason != "health check stopped: context canceled" {
		t.Fatalf("HealthGate = %s %q", g.Verdict, g.Reason)
	}
}
