package daemontest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// A push reaches dev and waits for alice in prod. Through the standby's
// API: statuses and history are read from the shared state, bad requests are
// refused with their status codes, and alice's approval is recorded; the
// leader then acts on it, and its metrics count the promotions.
func TestStandbyAPIApprovalIsActedOnByTheLeader(t *testing.T) {
	w := newWorld(t)
	sha := w.commit("first", chart)
	leader := w.startReplica("a")
	eventually(t, 30*time.Second, "replica a to lead", func() (bool, string) { return leader.daemon.IsLeader(), "" })
	standby := w.startReplica("b")
	eventually(t, 30*time.Second, "replica b to be ready", func() (bool, string) { return standby.daemon.Ready(), "" })

	const prod = "/api/v1/pipelines/app/environments/prod"
	eventually(t, 90*time.Second, "prod waiting for approval", func() (bool, string) {
		st := get[ferry.EnvironmentStatus](t, standby, prod)
		return st.Active != nil && st.Active.Revision.SHA == sha && st.Active.Phase == ferry.PhaseWaiting, fmt.Sprintf("%+v", st)
	})

	for _, r := range []struct {
		name   string
		rep    *replica
		leader bool
	}{{"leader", leader, true}, {"standby", standby, false}} {
		status, body := r.rep.call(t, "GET", "/readyz", "", "")
		want := fmt.Sprintf("{\n  \"ready\": true,\n  \"leader\": %t\n}\n", r.leader)
		if status != 200 || body != want {
			t.Errorf("%s /readyz = %d %q, want 200 %q", r.name, status, body, want)
		}
	}

	sts := get[[]ferry.EnvironmentStatus](t, standby, "/api/v1/environments")
	var rows []string
	for _, st := range sts {
		rows = append(rows, fmt.Sprintf("%s/%s %s %s", st.Pipeline, st.Environment, st.Current.Short(), st.Phase))
	}
	short := ferry.Revision{SHA: sha}.Short()
	if want := []string{"app/dev " + short + " Succeeded", "app/prod  Waiting"}; !slices.Equal(rows, want) {
		t.Errorf("standby statuses = %q, want %q", rows, want)
	}
	dev := get[[]ferry.Promotion](t, standby, "/api/v1/pipelines/app/environments/dev/promotions")
	if len(dev) != 1 || dev[0].Phase != ferry.PhaseSucceeded || !hasGate(dev[0], "health", ferry.VerdictPassed) {
		t.Errorf("dev history = %+v, want one Succeeded promotion with a passed health gate", dev)
	}

	refusals := []struct {
		name, path, token, body string
		wantStatus              int
		wantError               string
	}{
		{"missing token", prod + "/approve", "", `{"revision":"` + sha + `"}`, 401, "missing bearer token (Authorization: Bearer <token>)"},
		{"wrong token", prod + "/approve", aliceToken + "x", `{"revision":"` + sha + `"}`, 401, "invalid bearer token"},
		{"non-approver", prod + "/approve", bobToken, `{"revision":"` + sha + `"}`, 403, "you are not an approver for prod: forbidden"},
		{"unknown environment", "/api/v1/pipelines/app/environments/qa/approve", aliceToken, `{"revision":"` + sha + `"}`, 404,
			`pipeline app has no environment "qa" (environments: dev, prod)`},
		{"revision not waiting", prod + "/approve", aliceToken, `{"revision":"` + strings.Repeat("0", 40) + `"}`, 409, ""},
		{"oversize body", prod + "/reject", aliceToken, `{"revision":"` + sha + `","reason":"` + strings.Repeat("x", api.MaxRequestBody) + `"}`, 413,
			"request body is larger than 16384 bytes"},
	}
	for _, r := range refusals {
		status, body := standby.call(t, "POST", r.path, r.token, r.body)
		var e api.Error
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != r.wantStatus || r.wantError != "" && e.Message != r.wantError {
			t.Errorf("%s: %d %s, want %d %q", r.name, status, body, r.wantStatus, r.wantError)
		}
	}
	if audit := get[[]ferry.AuditEntry](t, standby, prod+"/audit"); len(audit) != 0 {
		t.Errorf("refused requests left audit entries: %+v", audit)
	}

	status, body := standby.call(t, "POST", prod+"/approve", aliceToken, `{"revision":"`+short+`","via":"cli"}`)
	if status != 200 {
		t.Fatalf("approve on the standby = %d %s", status, body)
	}
	var res api.WriteResult
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Revision != sha || res.Message != "alice approved "+short+" for prod" {
		t.Errorf("approve result = %s", body)
	}
	eventually(t, 90*time.Second, "the leader to bring prod to the approved revision", func() (bool, string) {
		st := get[ferry.EnvironmentStatus](t, leader, prod)
		return st.Current.SHA == sha && st.Phase == ferry.PhaseSucceeded, fmt.Sprintf("%+v", st)
	})
	hist := get[[]ferry.Promotion](t, leader, prod+"/promotions")
	if len(hist) != 1 || len(hist[0].Approvals) != 1 || hist[0].Approvals[0].Actor != "alice" || hist[0].Approvals[0].Via != "cli" ||
		!hasGate(hist[0], "health", ferry.VerdictPassed) {
		t.Errorf("prod history = %+v, want alice's cli approval and a passed health gate", hist)
	}
	audit := get[[]ferry.AuditEntry](t, leader, prod+"/audit")
	if len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Action != "approve" || audit[0].Revision != sha {
		t.Errorf("prod audit = %+v, want alice's approval", audit)
	}

	_, metrics := leader.call(t, "GET", "/metrics", "", "")
	for _, want := range []string{
		`ferry_promotions_total{env="dev",pipeline="app",result="Succeeded"} 1`,
		`ferry_promotions_total{env="prod",pipeline="app",result="Succeeded"} 1`,
		`ferry_promotions_total{env="prod",pipeline="app",result="Failed"} 0`,
		`ferry_promotion_duration_seconds_count{env="prod",pipeline="app"} 1`,
		`ferry_gate_duration_seconds_count{gate="approval",result="Passed"}`,
		`ferry_git_poll_total{pipeline="app",result="error"} 0`,
		"ferry_chat_outbox_pending ",
		"ferry_leader 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("leader metrics lack %q", want)
		}
	}
	if _, m := standby.call(t, "GET", "/metrics", "", ""); !strings.Contains(m, "ferry_leader 0") {
		t.Errorf("standby metrics lack ferry_leader 0")
	}
}

// hasGate reports whether p has gate with verdict.
func hasGate(p ferry.Promotion, gate string, v ferry.Verdict) bool {
	return slices.ContainsFunc(p.Gates, func(g ferry.GateResult) bool { return g.Gate == gate && g.Verdict == v })
}
