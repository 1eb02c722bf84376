package promote

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// ApprovalGate decides the manual gate of revision sha from the decisions
// recorded on its promotion. Only decisions on sha itself count (approving R
// never approves R+1), each approver once, and only approvers on the list; an
// empty list lets any identity approve. One rejection fails the gate.
func ApprovalGate(rule config.Approval, sha string, decisions []ferry.Approval) ferry.GateResult {
	g := ferry.GateResult{Gate: ferry.GateApproval}
	var approvedBy []string
	for _, d := range decisions {
		if d.Revision != sha || !isApprover(rule, d.Actor) {
			continue
		}
		if d.Rejected {
			g.Verdict = ferry.VerdictFailed
			g.Reason = "rejected by " + d.Actor
			if d.Reason != "" {
				g.Reason += ": " + d.Reason
			}
			g.Figures = []ferry.Figure{{Name: "rejected by", Value: d.Actor}}
			return g
		}
		if !slices.Contains(approvedBy, d.Actor) {
			approvedBy = append(approvedBy, d.Actor)
		}
	}
	count := fmt.Sprintf("%d of %d", len(approvedBy), rule.Required)
	g.Figures = []ferry.Figure{{Name: "approvals", Value: count}}
	if len(approvedBy) >= rule.Required {
		g.Verdict = ferry.VerdictPassed
		g.Reason = fmt.Sprintf("approved by %s (%s)", strings.Join(approvedBy, ", "), count)
		if len(approvedBy) == 0 {
			g.Reason = "no approval required"
		}
		return g
	}
	g.Verdict = ferry.VerdictPending
	g.Reason = fmt.Sprintf("waiting for approval of %s (%s)", short(sha), count)
	if len(approvedBy) > 0 {
		g.Reason += "; approved by " + strings.Join(approvedBy, ", ")
	}
	return g
}

// isApprover reports whether actor may decide under rule.
func isApprover(rule config.Approval, actor string) bool {
	if actor == "" {
		return false
	}
	return len(rule.Approvers) == 0 || slices.Contains(rule.Approvers, actor)
}
