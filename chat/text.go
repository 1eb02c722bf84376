package chat

import (
	"fmt"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
)

// This file holds the plain-text wording both notifiers share; Slack escapes
// and decorates it, the console prints it as is.

// statusText is an environment's status after its name, from the promotion:
// "✅ 42s", "⏳ load test 18/30s", "⏸ waiting for approval (1 of 1)".
func statusText(p *ferry.Promotion) string {
	reasonOr := func(s string) string {
		if p.Reason != "" {
			return p.Reason
		}
		return s
	}
	switch p.Phase {
	case ferry.PhaseWaiting:
		return "⏸ " + reasonOr("waiting")
	case ferry.PhaseApplying:
		return "⏳ " + reasonOr("applying")
	case ferry.PhaseVerifying:
		return "⏳ " + reasonOr("verifying")
	case ferry.PhaseRollingBack:
		return "↩️ " + reasonOr("rolling back")
	case ferry.PhaseSucceeded:
		end := p.Ended
		if end.IsZero() {
			end = p.Updated
		}
		return "✅ " + durationText(end.Sub(p.Created))
	case ferry.PhaseFailed:
		return "❌ " + reasonOr("failed")
	case ferry.PhaseRolledBack:
		return "↩️ " + reasonOr("rolled back")
	case ferry.PhaseSuperseded:
		return "⏭ " + reasonOr("superseded")
	case ferry.PhaseRejected:
		return "🚫 " + reasonOr("rejected")
	}
	return reasonOr(string(p.Phase))
}

// notStarted is the status of an environment the revision has not reached.
const notStarted = "· not yet"

// durationText prints 42s, 3m12s or 1h04m: the precision people read in chat.
func durationText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// awaitingApproval reports whether a manual approval gate is pending.
func awaitingApproval(p *ferry.Promotion, gates []ferry.GateResult) bool {
	if p == nil || p.Phase != ferry.PhaseWaiting {
		return false
	}
	for _, g := range append(append([]ferry.GateResult(nil), p.Gates...), gates...) {
		if g.Gate == ferry.GateApproval && g.Verdict == ferry.VerdictPending {
			return true
		}
	}
	return false
}

// decisionText is "approved by @alice at 10:02" or
// "rejected by @bob at 10:05: not during the sale".
func decisionText(a ferry.Approval, loc *time.Location) string {
	verb := "approved"
	if a.Rejected {
		verb = "rejected"
	}
	s := fmt.Sprintf("%s by @%s at %s", verb, a.Actor, a.Time.In(loc).Format("15:04"))
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// verdictIcon marks a gate verdict.
func verdictIcon(v ferry.Verdict) string {
	switch v {
	case ferry.VerdictPassed:
		return "✅"
	case ferry.VerdictFailed:
		return "❌"
	case ferry.VerdictPending:
		return "⏳"
	}
	return "⚠️"
}

// gateText is "load test passed: p95 142ms ≤ 300ms".
func gateText(g ferry.GateResult) string {
	s := g.Gate + " " + strings.ToLower(string(g.Verdict))
	if g.Reason != "" {
		s += ": " + g.Reason
	}
	return s
}

// figuresText is "p95 142ms · rps 50", empty without figures.
func figuresText(fs []ferry.Figure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Name + " " + f.Value
	}
	return strings.Join(parts, " · ")
}

// rollbackText says what a rollback did: "prod rolled back: p95 412ms > 300ms".
func rollbackText(env string, p *ferry.Promotion) string {
	s := env + " rolled back"
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}
