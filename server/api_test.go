package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// decodeJSON unmarshals body into a T or fails the test.
func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%s", err, body)
	}
	return v
}

// wantError asserts an API error body with exactly msg.
func wantError(msg string) func(*testing.T, string, http.Header) {
	return func(t *testing.T, body string, _ http.Header) {
		t.Helper()
		if got := decodeJSON[api.Error](t, body).Message; got != msg {
			t.Errorf("error = %q, want %q", got, msg)
		}
	}
}

func TestAPI(t *testing.T) {
	const prod = "/api/v1/pipelines/shop/environments/prod"
	tests := []struct {
		name         string
		method, path string
		token, body  string
		wantStatus   int
		assert       func(t *testing.T, body string, h http.Header)
		// wantWrites is what the daemon must have recorded; nil means nothing.
		wantWrites []string
	}{
		{
			name: "pipelines lists both with environments in promotion order and no repository URL", method: "GET", path: "/api/v1/pipelines",
			token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				got := decodeJSON[[]api.Pipeline](t, body)
				want := []api.Pipeline{
					{Name: "shop", Branch: "main", Chart: "chart", Webhook: true, Environments: []api.Environment{
						{Name: "dev", Gates: []string{"health"}},
						{Name: "staging", From: "dev", Gates: []string{"health"}},
						{Name: "prod", From: "staging", Gates: []string{"approval 1 of 2", "health"}, Approvers: []string{"alice", "bob"}, RequiredApprovals: 1},
					}},
					{Name: "blog", Branch: "release", Chart: "charts/blog", Environments: []api.Environment{{Name: "live", Gates: []string{"health"}}}},
				}
				if !jsonEqual(t, got, want) {
					t.Errorf("pipelines:\n%s", body)
				}
				if strings.Contains(body, "git.example.test") {
					t.Errorf("pipelines expose the repository URL:\n%s", body)
				}
			},
		},
		{
			name: "one pipeline by name", method: "GET", path: "/api/v1/pipelines/blog", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.Pipeline](t, body); got.Name != "blog" || len(got.Environments) != 1 || got.Webhook {
					t.Errorf("pipeline = %+v", got)
				}
			},
		},
		{
			name: "unknown pipeline is 404 naming the known ones", method: "GET", path: "/api/v1/pipelines/shoop", token: carolToken, wantStatus: 404,
			assert: wantError(`unknown pipeline "shoop" (pipelines: shop, blog)`),
		},
		{
			name: "environments of all pipelines come in config order", method: "GET", path: "/api/v1/environments", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				got := decodeJSON[[]ferry.EnvironmentStatus](t, body)
				var rows []string
				for _, st := range got {
					rows = append(rows, st.Pipeline+"/"+st.Environment+" "+st.Current.Short()+" "+string(st.Phase)+" "+st.WaitingFor)
				}
				want := []string{
					"shop/dev 9f8e7d6 Succeeded ", "shop/staging 9f8e7d6 Succeeded ",
					"shop/prod 1a2b3c4 Waiting approval (0 of 1)", "blog/live 9f8e700 Succeeded ",
				}
				if !slices.Equal(rows, want) {
					t.Errorf("environments = %q, want %q", rows, want)
				}
			},
		},
		{
			name: "environments of one pipeline", method: "GET", path: "/api/v1/pipelines/blog/environments", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				got := decodeJSON[[]ferry.EnvironmentStatus](t, body)
				if len(got) != 1 || got[0].Environment != "live" || got[0].Current.SHA != shaC {
					t.Errorf("environments = %+v", got)
				}
			},
		},
		{
			name: "one environment with its waiting promotion", method: "GET", path: prod, token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				got := decodeJSON[ferry.EnvironmentStatus](t, body)
				if got.Phase != ferry.PhaseWaiting || got.Current.SHA != shaA || got.Active == nil || got.Active.Revision.SHA != shaB ||
					got.WaitingFor != "approval (0 of 1)" || !got.Since.Equal(t0.Add(-600e9)) {
					t.Errorf("prod = %s", body)
				}
			},
		},
		{
			name: "unknown environment is 404 naming the known ones", method: "GET", path: "/api/v1/pipelines/shop/environments/qa", token: carolToken, wantStatus: 404,
			assert: wantError(`pipeline shop has no environment "qa" (environments: dev, staging, prod)`),
		},
		{
			name: "history comes newest first with gate figures", method: "GET", path: prod + "/promotions", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				got := decodeJSON[[]ferry.Promotion](t, body)
				if len(got) != 2 || got[0].ID != "shop-prod-2" || got[1].ID != "shop-prod-1" {
					t.Fatalf("history = %s", body)
				}
				g := got[1].Gates
				if len(g) != 1 || g[0].Gate != "health" || g[0].Verdict != ferry.VerdictPassed ||
					!slices.Equal(g[0].Figures, []ferry.Figure{{Name: "ready", Value: "4/4"}, {Name: "took", Value: "42s"}}) {
					t.Errorf("gates = %+v", g)
				}
			},
		},
		{
			name: "history limit keeps the newest", method: "GET", path: prod + "/promotions?limit=1", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[[]ferry.Promotion](t, body); len(got) != 1 || got[0].ID != "shop-prod-2" {
					t.Errorf("history = %s", body)
				}
			},
		},
		{
			name: "empty history is an empty list", method: "GET", path: "/api/v1/pipelines/blog/environments/live/promotions", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if strings.TrimSpace(body) != "[]" {
					t.Errorf("body = %q, want []", body)
				}
			},
		},
		{
			name: "history limit 0 is refused", method: "GET", path: prod + "/promotions?limit=0", token: carolToken, wantStatus: 400,
			assert: wantError(`limit "0": want a whole number from 1 to 1000`),
		},
		{
			name: "read without a token is 401", method: "GET", path: "/api/v1/environments", wantStatus: 401,
			assert: func(t *testing.T, body string, h http.Header) {
				wantError("missing bearer token (Authorization: Bearer <token>)")(t, body, h)
				if got := h.Get("WWW-Authenticate"); got != `Bearer realm="ferry"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			},
		},
		{
			name: "approve the waiting revision by its full SHA", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `","via":"cli"}`, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got != (api.WriteResult{Revision: shaB, Message: "alice approved 9f8e7d6 for prod"}) {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{`decide shop/prod ` + shaB + ` by alice via cli at 2025-03-04T09:00:00Z rejected=false reason=""`},
		},
		{
			name: "approve by a short SHA in upper case expands to the waiting revision", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"9F8E7D6"}`, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got.Revision != shaB {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{`decide shop/prod ` + shaB + ` by alice via api at 2025-03-04T09:00:00Z rejected=false reason=""`},
		},
		{
			name: "approve by a non-approver is 403 with the daemon's reason", method: "POST", path: prod + "/approve", token: carolToken,
			body: `{"revision":"` + shaB + `"}`, wantStatus: 403,
			assert: wantError("forbidden: carol is not an approver for prod"),
		},
		{
			name: "approve a revision not waiting is 409", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaA + `"}`, wantStatus: 409,
			assert: wantError("conflict: 1a2b3c4 is not waiting for approval in prod"),
		},
		{
			name: "approve a short SHA not waiting is 409 naming what waits", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"1a2b3c"}`, wantStatus: 409,
			assert: wantError("1a2b3c is not waiting for approval in prod (9f8e7d6 is): conflict"),
		},
		{
			name: "approve in an unknown environment is 404", method: "POST", path: "/api/v1/pipelines/shop/environments/qa/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `"}`, wantStatus: 404,
			assert: wantError(`pipeline shop has no environment "qa" (environments: dev, staging, prod)`),
		},
		{
			name: "approve without a token is 401", method: "POST", path: prod + "/approve",
			body: `{"revision":"` + shaB + `"}`, wantStatus: 401,
			assert: wantError("missing bearer token (Authorization: Bearer <token>)"),
		},
		{
			name: "approve with a wrong token is 401", method: "POST", path: prod + "/approve", token: aliceToken + "x",
			body: `{"revision":"` + shaB + `"}`, wantStatus: 401,
			assert: func(t *testing.T, body string, h http.Header) {
				wantError("invalid bearer token")(t, body, h)
				if got := h.Get("WWW-Authenticate"); got != `Bearer realm="ferry", error="invalid_token"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			},
		},
		{
			name: "approve with a body over the limit is 413", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `","reason":"` + strings.Repeat("x", api.MaxRequestBody) + `"}`, wantStatus: 413,
			assert: wantError("request body is larger than 16384 bytes"),
		},
		{
			name: "approve with an unknown field is 400", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `","sha":"x"}`, wantStatus: 400,
			assert: wantError(`request body: json: unknown field "sha"`),
		},
		{
			name: "approve with trailing data is 400", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `"} {}`, wantStatus: 400,
			assert: wantError("request body: data after the JSON object"),
		},
		{
			name: "approve without a revision is 400", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{}`, wantStatus: 400, assert: wantError("revision is required"),
		},
		{
			name: "approve with a revision that is not hex is 400", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"main"}`, wantStatus: 400, assert: wantError(`revision "main" is not a commit SHA (4 to 64 hex digits)`),
		},
		{
			name: "approve via slack is refused on the API", method: "POST", path: prod + "/approve", token: aliceToken,
			body: `{"revision":"` + shaB + `","via":"slack"}`, wantStatus: 400, assert: wantError(`via "slack": want "api" or "cli"`),
		},
		{
			name: "reject with a reason", method: "POST", path: prod + "/reject", token: aliceToken,
			body: `{"revision":"9f8e7d6","reason":"  p95 regressed in staging  "}`, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got.Message != "alice rejected 9f8e7d6 for prod" {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{`decide shop/prod ` + shaB + ` by alice via api at 2025-03-04T09:00:00Z rejected=true reason="p95 regressed in staging"`},
		},
		{
			name: "reject without a reason is 400", method: "POST", path: prod + "/reject", token: aliceToken,
			body: `{"revision":"` + shaB + `"}`, wantStatus: 400, assert: wantError("a rejection needs a reason"),
		},
		{
			name: "reject with a control character in the reason is 400", method: "POST", path: prod + "/reject", token: aliceToken,
			body: `{"revision":"` + shaB + `","reason":"bad\u001b[31m"}`, wantStatus: 400, assert: wantError("reason contains control characters"),
		},
		{
			name: "reject by a non-approver is 403", method: "POST", path: prod + "/reject", token: carolToken,
			body: `{"revision":"` + shaB + `","reason":"no"}`, wantStatus: 403, assert: wantError("forbidden: carol is not an approver for prod"),
		},
		{
			name: "promote a revision that succeeded upstream by its prefix", method: "POST", path: "/api/v1/pipelines/shop/environments/staging/promote", token: carolToken,
			body: `{"revision":"1a2b3c4"}`, wantStatus: 202,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got != (api.WriteResult{Revision: shaA, Message: "carol asked to promote 1a2b3c4 to staging"}) {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{"promote shop/staging " + shaA + " by carol"},
		},
		{
			name: "promote a prefix matching two upstream revisions is 400", method: "POST", path: "/api/v1/pipelines/shop/environments/staging/promote", token: carolToken,
			body: `{"revision":"9f8e7"}`, wantStatus: 400,
			assert: wantError("revision 9f8e7 is ambiguous: " + shaB + ", " + shaC + "; give more digits"),
		},
		{
			name: "promote a prefix that never succeeded upstream is 409", method: "POST", path: prod + "/promote", token: carolToken,
			body: `{"revision":"abcdef"}`, wantStatus: 409, assert: wantError("no revision starting with abcdef succeeded in staging: conflict"),
		},
		{
			name: "promote a full SHA the daemon refuses is 409", method: "POST", path: prod + "/promote", token: carolToken,
			body: `{"revision":"` + shaC + `"}`, wantStatus: 409, assert: wantError("conflict: 9f8e700 has not succeeded in staging"),
		},
		{
			name: "pause with an empty body", method: "POST", path: prod + "/pause", token: carolToken, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got.Message != "carol paused prod: no promotion starts there until it is resumed" {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{"paused shop/prod true by carol"},
		},
		{
			name: "resume with an empty object", method: "POST", path: prod + "/resume", token: carolToken, body: `{}`, wantStatus: 200,
			assert: func(t *testing.T, body string, _ http.Header) {
				if got := decodeJSON[api.WriteResult](t, body); got.Message != "carol resumed prod" {
					t.Errorf("result = %+v", got)
				}
			},
			wantWrites: []string{"paused shop/prod false by carol"},
		},
		{
			name: "pause in an unknown pipeline is 404", method: "POST", path: "/api/v1/pipelines/nope/environments/prod/pause", token: carolToken, wantStatus: 404,
			assert: wantError(`unknown pipeline "nope" (pipelines: shop, blog)`),
		},
		{
			name: "GET on a write endpoint is 405 in JSON", method: "GET", path: prod + "/approve", token: aliceToken, wantStatus: 405,
			assert: func(t *testing.T, body string, h http.Header) {
				wantError("GET /api/v1/pipelines/shop/environments/prod/approve: use POST")(t, body, h)
				if h.Get("Allow") != "POST" {
					t.Errorf("Allow = %q", h.Get("Allow"))
				}
			},
		},
		{
			name: "unknown API path is 404 in JSON", method: "GET", path: "/api/v1/releases", token: aliceToken, wantStatus: 404,
			assert: wantError("no API endpoint /api/v1/releases"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, loadTestConfig(t, nil), nil)
			status, h, body := ts.call(t, tt.method, tt.path, tt.token, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d\n%s", status, tt.wantStatus, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			tt.assert(t, body, h)
			if got := ts.daemon.Writes(); !slices.Equal(got, tt.wantWrites) {
				t.Errorf("daemon writes:\n got %q\nwant %q", got, tt.wantWrites)
			}
			if sec := containsSecret(body); sec != "" {
				t.Errorf("response contains secret %q", sec)
			}
		})
	}
}

// jsonEqual compares two values through their JSON encoding.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
