package daemontest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// envPath is the API path of environment env of pipeline app, with action.
func envPath(env, action string) string { return api.EnvironmentPath("app", env, action) }

// waitWaiting waits until sha's promotion in env waits (for approval).
func waitWaiting(t *testing.T, r *replica, env, sha, what string) {
	t.Helper()
	waitEnv(t, r, env, what, func(st ferry.EnvironmentStatus) bool {
		return st.Active != nil && st.Active.Revision.SHA == sha && st.Active.Phase == ferry.PhaseWaiting
	})
}

// waitEnv polls env's status on r until cond holds and returns it.
func waitEnv(t *testing.T, r *replica, env, what string, cond func(ferry.EnvironmentStatus) bool) ferry.EnvironmentStatus {
	t.Helper()
	var st ferry.EnvironmentStatus
	eventually(t, 90*time.Second, what, func() (bool, string) {
		st = get[ferry.EnvironmentStatus](t, r, envPath(env, ""))
		return cond(st), statusLine(st)
	})
	return st
}

// statusLine shows a status in one line for failure messages.
func statusLine(st ferry.EnvironmentStatus) string {
	s := fmt.Sprintf("%s current=%s phase=%s paused=%t", st.Environment, st.Current.Short(), st.Phase, st.Paused)
	if a := st.Active; a != nil {
		s += fmt.Sprintf(" active={%s %s %s by %s}", a.Revision.Short(), a.Phase, a.Reason, a.Actor)
	}
	return s
}

// promotionRows shows promotions, newest first, as "revision phase actor helm=N".
func promotionRows(proms []ferry.Promotion) []string {
	rows := []string{}
	for _, p := range proms {
		rows = append(rows, fmt.Sprintf("%s %s %s helm=%d", p.Revision.Short(), p.Phase, p.Actor, p.HelmRevision))
	}
	return rows
}

// auditRows shows audit entries, newest first, as "actor action revision detail".
func auditRows(t *testing.T, entries []ferry.AuditEntry) []string {
	t.Helper()
	rows := []string{}
	for i, e := range entries {
		if e.Pipeline != "app" || e.Time.IsZero() {
			t.Errorf("audit entry %d = %+v: want pipeline app and a time", i, e)
		}
		if i > 0 && e.Time.After(entries[i-1].Time) {
			t.Errorf("audit entry %d (%s) is newer than entry %d (%s): want newest first", i, e.Time, i-1, entries[i-1].Time)
		}
		rows = append(rows, strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s", e.Environment, e.Actor, e.Action, ferry.Revision{SHA: e.Revision}.Short(), e.Detail)))
	}
	return rows
}

// gateRows shows a promotion's gates as "gate verdict: reason".
func gateRows(p ferry.Promotion) []string {
	rows := []string{}
	for _, g := range p.Gates {
		rows = append(rows, fmt.Sprintf("%s %s", g.Gate, g.Verdict))
	}
	return rows
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// A revision waiting in prod is refused a rejection without a reason, by a
// non-approver, or for another revision, and none of these leave a trace;
// alice's rejection with a reason ends the promotion as Rejected, records
// her reason in the history and the audit log, installs nothing in prod,
// and the rejected revision is neither offered again nor approvable.
func TestRejectWithReasonEndsThePromotion(t *testing.T) {
	w := newWorld(t)
	sha := w.commit("first", chart)
	short := ferry.Revision{SHA: sha}.Short()
	r := w.startReplica("a")
	waitWaiting(t, r, "prod", sha, "prod waiting for approval")
	reject := envPath("prod", "reject")
	other := strings.Repeat("ab", 20)
	for _, c := range []struct {
		name, token, body string
		status            int
		msg               string
	}{
		{"no reason", aliceToken, `{"revision":"` + sha + `"}`, 400, "a rejection needs a reason"},
		{"blank reason", aliceToken, `{"revision":"` + sha + `","reason":" \n\t "}`, 400, "a rejection needs a reason"},
		{"control character", aliceToken, `{"revision":"` + sha + `","reason":"bell\u0007"}`, 400, "reason contains control characters"},
		{"reason too long", aliceToken, `{"revision":"` + sha + `","reason":"` + strings.Repeat("é", api.MaxReason+1) + `"}`, 400,
			"reason is longer than 1000 characters"},
		{"non-approver", bobToken, `{"revision":"` + sha + `","reason":"looks wrong"}`, 403, "you are not an approver for prod: forbidden"},
		{"missing token", "", `{"revision":"` + sha + `","reason":"looks wrong"}`, 401, "missing bearer token (Authorization: Bearer <token>)"},
		{"revision not waiting", aliceToken, `{"revision":"` + other + `","reason":"looks wrong"}`, 409,
			ferry.Revision{SHA: other}.Short() + " is not waiting for approval in prod: conflict"},
		{"prefix not waiting", aliceToken, `{"revision":"abab","reason":"looks wrong"}`, 409,
			"abab is not waiting for approval in prod (" + short + " is): conflict"},
		{"automatic environment", aliceToken, `{"revision":"` + sha + `","reason":"looks wrong"}`, 409, "dev needs no approval: conflict"},
	} {
		path := reject
		if c.name == "automatic environment" {
			path = envPath("dev", "reject")
		}
		if status, _, msg := post(t, r, path, c.token, c.body); status != c.status || msg != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, msg, c.status, c.msg)
		}
	}
	equal(t, "audit after refused rejections", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))), []string{})
	if st := get[ferry.EnvironmentStatus](t, r, envPath("prod", "")); st.Active == nil || st.Active.Phase != ferry.PhaseWaiting || len(st.Active.Approvals) != 0 {
		t.Fatalf("after refused rejections prod is %s, want still waiting with no decision", statusLine(st))
	}

	const reason = "p95 regressed in dev"
	status, res, msg := post(t, r, reject, aliceToken, `{"revision":"`+short+`","reason":"  `+reason+`  ","via":"cli"}`)
	if status != 200 || res.Revision != sha || res.Message != "alice rejected "+short+" for prod" {
		t.Fatalf("reject = %d %+v %q", status, res, msg)
	}
	st := waitEnv(t, r, "prod", "prod to end Rejected", func(st ferry.EnvironmentStatus) bool {
		return st.Active == nil && st.Phase == ferry.PhaseRejected
	})
	if st.Current.SHA != "" || st.WaitingFor != "" || st.Since.IsZero() {
		t.Errorf("prod after the rejection = %+v, want no current revision, nothing waited for, a since", st)
	}
	hist := get[[]ferry.Promotion](t, r, envPath("prod", "promotions"))
	equal(t, "prod history", promotionRows(hist), []string{short + " Rejected ferry helm=0"})
	if len(hist) == 1 {
		p := hist[0]
		equal(t, "rejection recorded", p.Approvals, []ferry.Approval{{Actor: "alice", Pipeline: "app", Environment: "prod", Revision: sha,
			Time: p.Approvals[0].Time, Via: "cli", Rejected: true, Reason: reason}})
		g := p.Gates[slices.IndexFunc(p.Gates, func(g ferry.GateResult) bool { return g.Gate == ferry.GateApproval })]
		if g.Verdict != ferry.VerdictFailed || g.Reason != "rejected by alice: "+reason {
			t.Errorf("approval gate = %s %q, want Failed %q", g.Verdict, g.Reason, "rejected by alice: "+reason)
		}
		if p.Reason != "rejected by alice: "+reason || p.Ended.IsZero() {
			t.Errorf("rejected promotion reason %q ended %s", p.Reason, p.Ended)
		}
	}
	equal(t, "prod audit", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))),
		[]string{"prod alice reject " + short + " " + reason})
	equal(t, "dev audit (no write went there)", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("dev", "audit"))), []string{})
	equal(t, "Helm revisions of app-prod", w.helmRevisions("app-prod"), []int{})
	equal(t, "Helm revisions of app-dev", w.helmRevisions("app-dev"), []int{1})
	equal(t, "app-prod greeting", w.greeting("app-prod"), "(absent)")
	equal(t, "app-dev greeting", w.greeting("app-dev"), "hello dev")

	// Nothing waits any more: approving the rejected revision is a conflict.
	status, _, msg = post(t, r, envPath("prod", "approve"), aliceToken, `{"revision":"`+short+`"}`)
	if want := short + " is not waiting for approval in prod (nothing is): conflict"; status != 409 || msg != want {
		t.Errorf("approve after the rejection = %d %q, want 409 %q", status, msg, want)
	}
	// Many steps later (15 reads of the head at 200ms, three resyncs) the
	// rejected revision has not been offered again.
	r.waitPolls(t, 15)
	st = get[ferry.EnvironmentStatus](t, r, envPath("prod", ""))
	if st.Active != nil || st.Phase != ferry.PhaseRejected {
		t.Errorf("prod three resyncs after the rejection = %s, want still Rejected", statusLine(st))
	}
	equal(t, "prod history three resyncs later", promotionRows(get[[]ferry.Promotion](t, r, envPath("prod", "promotions"))),
		[]string{short + " Rejected ferry helm=0"})
	equal(t, "prod audit at the end", len(get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))), 1)
}

// dev paused and a second commit made: a revision that has not passed dev
// cannot be promoted to prod (409, by prefix or full SHA), nor can anything
// be promoted to dev, which follows the branch. A revision alice rejected
// in prod that passed dev can: bob promotes it by a prefix, it waits for
// alice again under bob's name, and once approved it is installed. Then
// every read endpoint reports that state exactly.
func TestPromoteRevisionThatPassedUpstreamAndReadBack(t *testing.T) {
	w := newWorld(t)
	sha1 := w.commit("first", chart)
	short1 := ferry.Revision{SHA: sha1}.Short()
	r := w.startReplica("a")
	waitWaiting(t, r, "prod", sha1, "prod waiting for approval")
	if status, _, msg := post(t, r, envPath("prod", "reject"), aliceToken, `{"revision":"`+sha1+`","reason":"not on a Friday"}`); status != 200 {
		t.Fatalf("reject = %d %q", status, msg)
	}
	waitEnv(t, r, "prod", "prod to end Rejected", func(st ferry.EnvironmentStatus) bool {
		return st.Active == nil && st.Phase == ferry.PhaseRejected
	})
	if status, res, msg := post(t, r, envPath("dev", "pause"), bobToken, ""); status != 200 || res.Message != "bob paused dev: no promotion starts there until it is resumed" {
		t.Fatalf("pause dev = %d %+v %q", status, res, msg)
	}
	sha2 := w.commit("second", map[string]string{"values-dev.yaml": "greeting: hello dev 2\n"})
	short2 := ferry.Revision{SHA: sha2}.Short()
	eventually(t, 60*time.Second, "the leader to record the second commit", func() (bool, string) {
		h := w.stateHead()
		return h == sha2, "head " + h
	})

	promote := envPath("prod", "promote")
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		msg                     string
	}{
		{"prefix not passed upstream", promote, bobToken, `{"revision":"` + short2 + `"}`, 409,
			"no revision starting with " + short2 + " succeeded in dev: conflict"},
		{"full SHA not passed upstream", promote, bobToken, `{"revision":"` + strings.ToUpper(sha2) + `"}`, 409,
			short2 + " has not succeeded in dev: conflict"},
		{"first environment", envPath("dev", "promote"), bobToken, `{"revision":"` + sha1 + `"}`, 409,
			"dev follows the branch main; push to the branch instead: conflict"},
		{"no revision", promote, bobToken, `{}`, 400, "revision is required"},
		{"not a SHA", promote, bobToken, `{"revision":"main"}`, 400, `revision "main" is not a commit SHA (4 to 64 hex digits)`},
		{"wrong token", promote, bobToken + "x", `{"revision":"` + sha1 + `"}`, 401, "invalid bearer token"},
		{"unknown environment", envPath("qa", "promote"), bobToken, `{"revision":"` + sha1 + `"}`, 404,
			`pipeline app has no environment "qa" (environments: dev, prod)`},
	} {
		if status, _, msg := post(t, r, c.path, c.token, c.body); status != c.status || msg != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, msg, c.status, c.msg)
		}
	}
	equal(t, "prod audit after refused promotions", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))),
		[]string{"prod alice reject " + short1 + " not on a Friday"})

	status, res, msg := post(t, r, promote, bobToken, `{"revision":"`+short1[:5]+`"}`)
	if status != 202 || res.Revision != sha1 || res.Message != "bob asked to promote "+short1+" to prod" {
		t.Fatalf("promote = %d %+v %q", status, res, msg)
	}
	st := waitEnv(t, r, "prod", "bob's promotion to wait for approval", func(st ferry.EnvironmentStatus) bool {
		return st.Active != nil && st.Active.Phase == ferry.PhaseWaiting && strings.HasPrefix(st.WaitingFor, "waiting for approval")
	})
	if a := st.Active; a.Revision.SHA != sha1 || a.Actor != "bob" || st.WaitingFor != "waiting for approval of "+short1+" (0 of 1)" {
		t.Fatalf("prod after bob's promotion = %s waiting for %q, want %s by bob waiting for alice", statusLine(st), st.WaitingFor, short1)
	}
	if status, res, msg := post(t, r, envPath("prod", "approve"), aliceToken, `{"revision":"`+sha1+`"}`); status != 200 || res.Message != "alice approved "+short1+" for prod" {
		t.Fatalf("approve = %d %+v %q", status, res, msg)
	}
	waitEnv(t, r, "prod", "prod to run the promoted revision", func(st ferry.EnvironmentStatus) bool {
		return st.Current.SHA == sha1 && st.Phase == ferry.PhaseSucceeded && st.Active == nil
	})
	equal(t, "Helm revisions of app-prod", w.helmRevisions("app-prod"), []int{1})
	equal(t, "app-prod greeting", w.greeting("app-prod"), "hello prod")
	equal(t, "Helm revisions of app-dev (paused before the second commit)", w.helmRevisions("app-dev"), []int{1})
	equal(t, "app-dev greeting", w.greeting("app-dev"), "hello dev")

	// The read endpoints, on this state.
	wantPipeline := api.Pipeline{Name: "app", Branch: "main", Chart: "chart", Environments: []api.Environment{
		{Name: "dev", Gates: []string{"health"}},
		{Name: "prod", From: "dev", Gates: []string{"approval 1 of 1", "health"}, Approvers: []string{"alice"}, RequiredApprovals: 1},
	}}
	equal(t, "GET pipelines", get[[]api.Pipeline](t, r, api.PipelinesPath()), []api.Pipeline{wantPipeline})
	equal(t, "GET pipelines/app", get[api.Pipeline](t, r, api.PipelinesPath()+"/app"), wantPipeline)
	if status, body := r.call(t, "GET", api.PipelinesPath()+"/shop", bobToken, ""); status != 404 ||
		body != "{\n  \"error\": \"unknown pipeline \\\"shop\\\" (pipelines: app)\"\n}\n" {
		t.Errorf("GET pipelines/shop = %d %s", status, body)
	}
	if status, _ := r.call(t, "GET", api.PipelinesPath(), "", ""); status != 401 {
		t.Errorf("GET pipelines without a token = %d, want 401", status)
	}

	all := get[[]ferry.EnvironmentStatus](t, r, api.EnvironmentsPath(""))
	var rows []string
	for _, s := range all {
		rows = append(rows, fmt.Sprintf("%s/%s from=%q current=%s phase=%s paused=%t active=%t since=%t",
			s.Pipeline, s.Environment, s.From, s.Current.Short(), s.Phase, s.Paused, s.Active != nil, !s.Since.IsZero()))
	}
	equal(t, "GET environments", rows, []string{
		`app/dev from="" current=` + short1 + ` phase=Succeeded paused=true active=false since=true`,
		`app/prod from="dev" current=` + short1 + ` phase=Succeeded paused=false active=false since=true`,
	})
	equal(t, "GET pipelines/app/environments", get[[]ferry.EnvironmentStatus](t, r, api.EnvironmentsPath("app")), all)
	if len(all) == 2 {
		equal(t, "GET environments/prod", get[ferry.EnvironmentStatus](t, r, envPath("prod", "")), all[1])
		if all[1].Current.Subject != "first" {
			t.Errorf("prod current revision subject = %q, want first", all[1].Current.Subject)
		}
	}

	prodHist := get[[]ferry.Promotion](t, r, envPath("prod", "promotions"))
	equal(t, "GET prod promotions", promotionRows(prodHist), []string{short1 + " Succeeded bob helm=1", short1 + " Rejected ferry helm=0"})
	if len(prodHist) == 2 {
		p := prodHist[0]
		equal(t, "promoted one's ids", []string{p.ID, prodHist[1].ID}, []string{"app-prod-2", "app-prod-1"})
		equal(t, "promoted one's gates", gateRows(p), []string{"approval Passed", "health Passed"})
		if len(p.Approvals) != 1 || p.Approvals[0].Actor != "alice" || p.Approvals[0].Via != api.ViaAPI || p.Approvals[0].Rejected {
			t.Errorf("promoted one's approvals = %+v, want alice's via api", p.Approvals)
		}
		if p.Digest == "" || p.Ended.Before(p.Created) || !prodHist[1].Created.Before(p.Created) {
			t.Errorf("promoted one: digest %q created %s ended %s; the rejected one created %s", p.Digest, p.Created, p.Ended, prodHist[1].Created)
		}
	}
	equal(t, "GET prod promotions?limit=1", promotionRows(get[[]ferry.Promotion](t, r, envPath("prod", "promotions")+"?limit=1")),
		[]string{short1 + " Succeeded bob helm=1"})
	devHist := get[[]ferry.Promotion](t, r, envPath("dev", "promotions"))
	equal(t, "GET dev promotions", promotionRows(devHist), []string{short1 + " Succeeded ferry helm=1"})
	if len(devHist) == 1 {
		equal(t, "dev gates", gateRows(devHist[0]), []string{"health Passed"})
	}
	if status, body := r.call(t, "GET", envPath("prod", "promotions")+"?limit=0", bobToken, ""); status != 400 ||
		!strings.Contains(body, `limit \"0\": want a whole number from 1 to 1000`) {
		t.Errorf("GET promotions?limit=0 = %d %s", status, body)
	}

	equal(t, "GET prod audit", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))), []string{
		"prod alice approve " + short1,
		"prod bob promote " + short1,
		"prod alice reject " + short1 + " not on a Friday",
	})
	equal(t, "GET prod audit?limit=2", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit")+"?limit=2")), []string{
		"prod alice approve " + short1,
		"prod bob promote " + short1,
	})
	equal(t, "GET dev audit", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("dev", "audit"))), []string{"dev bob pause"})
}

// A paused dev takes no new revision: the second commit is recorded as the
// branch head, yet three resyncs later dev still runs the first with one
// Helm revision. Resumed, it installs the second (Helm revision 2) and
// offers it to prod. A paused prod refuses manual promotions. Every pause
// and resume is in the audit log under the token's user.
func TestPausedEnvironmentTakesNoRevisionUntilResumed(t *testing.T) {
	w := newWorld(t)
	sha1 := w.commit("first", chart)
	short1 := ferry.Revision{SHA: sha1}.Short()
	r := w.startReplica("a")
	waitWaiting(t, r, "prod", sha1, "prod waiting for approval")
	waitEnv(t, r, "dev", "dev to run the first commit", func(st ferry.EnvironmentStatus) bool {
		return st.Current.SHA == sha1 && st.Phase == ferry.PhaseSucceeded
	})
	equal(t, "Helm revisions of app-dev", w.helmRevisions("app-dev"), []int{1})

	for _, c := range []struct{ env, action, token, body, msg string }{
		{"dev", "pause", bobToken, "", "bob paused dev: no promotion starts there until it is resumed"},
		{"prod", "pause", aliceToken, "{}", "alice paused prod: no promotion starts there until it is resumed"},
	} {
		status, res, msg := post(t, r, envPath(c.env, c.action), c.token, c.body)
		if status != 200 || res.Message != c.msg || res.Revision != "" {
			t.Fatalf("%s %s = %d %+v %q, want 200 %q", c.action, c.env, status, res, msg, c.msg)
		}
	}
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		msg                     string
	}{
		{"promote to a paused environment", envPath("prod", "promote"), bobToken, `{"revision":"` + sha1 + `"}`, 409,
			"prod is paused; resume it first: conflict"},
		{"pause with a body", envPath("dev", "pause"), bobToken, `{"reason":"x"}`, 400, `request body: json: unknown field "reason"`},
		{"pause without a token", envPath("dev", "pause"), "", "", 401, "missing bearer token (Authorization: Bearer <token>)"},
		{"resume an unknown environment", envPath("qa", "resume"), bobToken, "", 404, `pipeline app has no environment "qa" (environments: dev, prod)`},
	} {
		if status, _, msg := post(t, r, c.path, c.token, c.body); status != c.status || msg != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, msg, c.status, c.msg)
		}
	}
	if status, body := r.call(t, "GET", envPath("dev", "pause"), bobToken, ""); status != 405 || !strings.Contains(body, "use POST") {
		t.Errorf("GET pause = %d %s, want 405", status, body)
	}
	if status, res, msg := post(t, r, envPath("prod", "resume"), aliceToken, ""); status != 200 || res.Message != "alice resumed prod" {
		t.Fatalf("resume prod = %d %+v %q", status, res, msg)
	}
	dev := get[ferry.EnvironmentStatus](t, r, envPath("dev", ""))
	prod := get[ferry.EnvironmentStatus](t, r, envPath("prod", ""))
	if !dev.Paused || prod.Paused {
		t.Errorf("paused: dev %t prod %t, want dev only", dev.Paused, prod.Paused)
	}

	sha2 := w.commit("second", map[string]string{"values-dev.yaml": "greeting: hello dev 2\n"})
	short2 := ferry.Revision{SHA: sha2}.Short()
	eventually(t, 60*time.Second, "the leader to record the second commit", func() (bool, string) {
		h := w.stateHead()
		return h == sha2, "head " + h
	})
	// The leader reacts to a new head at once and resyncs every second:
	// 15 more reads of the head leave it ample chances to wrongly start
	// the second commit.
	r.waitPolls(t, 15)
	dev = get[ferry.EnvironmentStatus](t, r, envPath("dev", ""))
	if dev.Current.SHA != sha1 || dev.Phase != ferry.PhaseSucceeded || dev.Active != nil || !dev.Paused {
		t.Errorf("paused dev after the second commit = %s, want still %s Succeeded and paused", statusLine(dev), short1)
	}
	equal(t, "paused dev's history", promotionRows(get[[]ferry.Promotion](t, r, envPath("dev", "promotions"))), []string{short1 + " Succeeded ferry helm=1"})
	equal(t, "Helm revisions of paused app-dev", w.helmRevisions("app-dev"), []int{1})
	equal(t, "paused app-dev greeting", w.greeting("app-dev"), "hello dev")

	if status, res, msg := post(t, r, envPath("dev", "resume"), bobToken, ""); status != 200 || res.Message != "bob resumed dev" {
		t.Fatalf("resume dev = %d %+v %q", status, res, msg)
	}
	waitEnv(t, r, "dev", "resumed dev to run the second commit", func(st ferry.EnvironmentStatus) bool {
		return st.Current.SHA == sha2 && st.Phase == ferry.PhaseSucceeded && st.Active == nil
	})
	if st := get[ferry.EnvironmentStatus](t, r, envPath("dev", "")); st.Paused {
		t.Errorf("dev is still paused after resume")
	}
	equal(t, "resumed dev's history", promotionRows(get[[]ferry.Promotion](t, r, envPath("dev", "promotions"))),
		[]string{short2 + " Succeeded ferry helm=2", short1 + " Succeeded ferry helm=1"})
	equal(t, "Helm revisions of resumed app-dev", w.helmRevisions("app-dev"), []int{1, 2})
	equal(t, "resumed app-dev greeting", w.greeting("app-dev"), "hello dev 2")
	waitWaiting(t, r, "prod", sha2, "prod to be offered the second commit")
	equal(t, "prod history", promotionRows(get[[]ferry.Promotion](t, r, envPath("prod", "promotions"))),
		[]string{short2 + " Waiting ferry helm=0", short1 + " Superseded ferry helm=0"})
	equal(t, "Helm revisions of app-prod", w.helmRevisions("app-prod"), []int{})

	equal(t, "dev audit", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("dev", "audit"))), []string{"dev bob resume", "dev bob pause"})
	equal(t, "prod audit", auditRows(t, get[[]ferry.AuditEntry](t, r, envPath("prod", "audit"))), []string{"prod alice resume", "prod alice pause"})
}

// A revision that passed dev earlier, promoted to prod by hand while dev's
// newer revision waits there for approval, must take the newer one's place
// and wait for alice under bob's name: the automatic offer of dev's latest
// yields to a person's choice made since it was offered (promote.Candidate).
func TestManualPromotionIsNotSupersededByTheAutomaticOffer(t *testing.T) {
	w := newWorld(t)
	sha1 := w.commit("first", chart)
	short1 := ferry.Revision{SHA: sha1}.Short()
	r := w.startReplica("a")
	waitWaiting(t, r, "prod", sha1, "prod waiting for the first commit")
	sha2 := w.commit("second", map[string]string{"values-dev.yaml": "greeting: hello dev 2\n"})
	waitWaiting(t, r, "prod", sha2, "prod waiting for the second commit")
	if status, res, msg := post(t, r, envPath("prod", "promote"), bobToken, `{"revision":"`+sha1+`"}`); status != 202 || res.Revision != sha1 {
		t.Fatalf("promote = %d %+v %q", status, res, msg)
	}
	waitEnv(t, r, "prod", "bob's promotion to wait for approval", func(st ferry.EnvironmentStatus) bool {
		return st.Active != nil && st.Active.Revision.SHA == sha1 && st.Active.Actor == "bob" && strings.HasPrefix(st.WaitingFor, "waiting for approval")
	})
	r.waitPolls(t, 15)
	if st := get[ferry.EnvironmentStatus](t, r, envPath("prod", "")); st.Active == nil || st.Active.Revision.SHA != sha1 || st.Active.Actor != "bob" {
		t.Fatalf("three resyncs after bob's promotion prod is %s, want %s by bob still waiting", statusLine(st), short1)
	}
	if status, _, msg := post(t, r, envPath("prod", "approve"), aliceToken, `{"revision":"`+sha1+`"}`); status != 200 {
		t.Fatalf("approve = %d %q", status, msg)
	}
	waitEnv(t, r, "prod", "prod to run bob's revision", func(st ferry.EnvironmentStatus) bool { return st.Current.SHA == sha1 })
	equal(t, "Helm revisions of app-prod", w.helmRevisions("app-prod"), []int{1})
}
