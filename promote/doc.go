// Package promote decides how a revision moves into an environment: the
// promotion state machine and the gates a promotion must pass.
//
// The state machine is a pure function, [Rules.Next], over one environment's
// [State] and an [Event] (a candidate revision, gate results, an approval, the
// result of an apply or rollback, a timeout, a wake-up or a restart). It
// returns the new state and the [Action]s the reconciler must carry out:
// run the admission gates, apply, verify, roll back, notify, wake up later.
// The reconciler persists the returned state before it acts, so a restart
// finds the intent and resumes it (Event kind Restart).
//
// Gates return a ferry.GateResult whose reason carries the figures that
// decided it:
//   - admission, before applying: [Policy] (Pod Security Standards,
//     NetworkPolicy coverage, CEL rules), [QuotaFit], [WindowGate],
//     [ApprovalGate];
//   - verification, after applying: [HealthGate], [LoadGate].
//
// promote talks to neither Kubernetes, Helm nor Slack: what it needs from a
// live cluster comes through [HealthChecker] and [QuotaReader], which deploy
// satisfies and the reconciler wires.
package promote
