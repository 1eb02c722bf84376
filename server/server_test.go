package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry/internal/slackserver"
	"github.com/ferry-gitops/ferry/server/api"
	"github.com/ferry-gitops/ferry/server/servertest"
)

func TestHealthAndReadiness(t *testing.T) {
	tests := []struct {
		name          string
		ready, leader bool
		path          string
		wantStatus    int
		wantBody      string
	}{
		{name: "healthz answers ok", path: "/healthz", wantStatus: 200, wantBody: "ok\n"},
		{name: "a ready standby is ready", ready: true, path: "/readyz", wantStatus: 200, wantBody: "{\n  \"ready\": true,\n  \"leader\": false\n}\n"},
		{name: "a ready leader says so", ready: true, leader: true, path: "/readyz", wantStatus: 200, wantBody: "{\n  \"ready\": true,\n  \"leader\": true\n}\n"},
		{name: "a daemon without readable state is not ready", path: "/readyz", wantStatus: 503, wantBody: "{\n  \"ready\": false,\n  \"leader\": false\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, loadTestConfig(t, nil), nil)
			ts.daemon.SetReady(tt.ready)
			ts.daemon.SetLeader(tt.leader)
			status, _, body := ts.call(t, "GET", tt.path, "", "")
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestWithoutTokensFileReadsAreOpenAndWritesRefused(t *testing.T) {
	cfg := loadTestConfig(t, func(s string) string { return s[:strings.Index(s, "server:")] })
	ts := startServer(t, cfg, nil)
	status, _, body := ts.call(t, "GET", "/api/v1/pipelines/shop/environments/dev", "", "")
	if status != 200 || decodeJSON[struct{ Environment string }](t, body).Environment != "dev" {
		t.Errorf("anonymous read = %d %s", status, body)
	}
	status, _, body = ts.call(t, "POST", "/api/v1/pipelines/shop/environments/prod/pause", aliceToken, "")
	if status != 403 || decodeJSON[api.Error](t, body).Message != "the write API is disabled: server.apiTokensFile is not set" {
		t.Errorf("write = %d %s", status, body)
	}
	if w := ts.daemon.Writes(); len(w) != 0 {
		t.Errorf("daemon recorded %q", w)
	}
}

func TestPanicIsLoggedAndAnswered500(t *testing.T) {
	ts := startServer(t, loadTestConfig(t, nil), nil)
	ts.daemon.SetPanics(true)
	status, _, body := ts.call(t, "GET", "/api/v1/environments", aliceToken, "")
	if status != 500 || decodeJSON[api.Error](t, body).Message != "internal error" {
		t.Errorf("panicking handler = %d %s", status, body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `msg="http handler panicked"`) || !strings.Contains(logs, `panic="status map corrupted"`) || !strings.Contains(logs, "stack=") {
		t.Errorf("panic not logged with its value and stack:\n%s", logs)
	}
	ts.daemon.SetPanics(false)
	if status, _, _ := ts.call(t, "GET", "/api/v1/environments", aliceToken, ""); status != 200 {
		t.Errorf("after a panic the server answers %d", status)
	}
}

func TestDaemonCallPastTheRequestDeadlineIs504(t *testing.T) {
	ts := startServer(t, loadTestConfig(t, nil), func(o *Options) { o.RequestTimeout = 50 * time.Millisecond })
	ts.daemon.SetBlock(true)
	status, _, body := ts.call(t, "GET", "/api/v1/environments", aliceToken, "")
	if status != 504 || decodeJSON[api.Error](t, body).Message != "status: timed out" {
		t.Errorf("blocked daemon = %d %s", status, body)
	}
}

// signGitHub signs body as GitHub does with the test webhook secret.
func signGitHub(body string) string {
	mac := hmac.New(sha256.New, []byte(servertest.WebhookSecret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestGitWebhookNudgesItsPipeline(t *testing.T) {
	const push = `{"ref":"refs/heads/main","after":"` + shaB + `"}`
	tests := []struct {
		name       string
		path, sig  string
		wantStatus int
		wantNudges []string
	}{
		{name: "signed push to the tracked branch nudges shop", path: "/hooks/git/shop", sig: signGitHub(push), wantStatus: 202, wantNudges: []string{"shop"}},
		{name: "wrong signature changes nothing", path: "/hooks/git/shop", sig: signGitHub(push + " "), wantStatus: 401},
		{name: "missing signature changes nothing", path: "/hooks/git/shop", wantStatus: 401},
		{name: "pipeline without a webhook is 404", path: "/hooks/git/blog", sig: signGitHub(push), wantStatus: 404},
		{name: "unknown pipeline is 404", path: "/hooks/git/nope", sig: signGitHub(push), wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, loadTestConfig(t, nil), nil)
			req, err := http.NewRequestWithContext(t.Context(), "POST", ts.URL+tt.path, strings.NewReader(push))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-GitHub-Event", "push")
			if tt.sig != "" {
				req.Header.Set("X-Hub-Signature-256", tt.sig)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if sec := containsSecret(string(body)); sec != "" {
				t.Errorf("response contains secret %q", sec)
			}
			var want []string
			for _, n := range tt.wantNudges {
				want = append(want, "nudge "+n)
			}
			if got := ts.daemon.Writes(); !slices.Equal(got, want) {
				t.Errorf("daemon writes = %q, want %q", got, want)
			}
		})
	}
}

func TestSlackClickReachesTheDaemon(t *testing.T) {
	slack := slackserver.New(slackToken)
	t.Cleanup(slack.Close)
	tests := []struct {
		name       string
		user       string
		secret     string
		wantStatus int
		wantWrites []string
		wantAnswer string
	}{
		{
			name: "approver's click is recorded via slack", user: "U024BE7LH", secret: slackSigning, wantStatus: 200,
			wantWrites: []string{"decide shop/prod " + shaB + " by alice via slack at "},
			wantAnswer: "You approved 9f8e7d6 for prod.",
		},
		{
			name: "non-approver's click is refused with the daemon's reason", user: "U0G9QF9C6", secret: slackSigning, wantStatus: 200,
			wantAnswer: "forbidden: carol is not an approver for prod",
		},
		{name: "click signed with another secret is 401", user: "U024BE7LH", secret: "not-the-secret", wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, loadTestConfig(t, nil), func(o *Options) { o.SlackHTTPClient = &http.Client{Timeout: 10 * time.Second} })
			responseURL := slack.ResponseURL()
			payload, err := slackserver.BlockActionsPayload(slackserver.Click{
				UserID: tt.user, ActionID: "ferry_approve", ResponseURL: responseURL,
				Value: `{"pipeline":"shop","environment":"prod","revision":"` + shaB + `"}`,
			})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := slackserver.SendInteraction(t.Context(), ts.Client(), ts.URL+"/slack/interactions", tt.secret, time.Now(), payload)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			ts.srv.slack.Wait()
			var writes []string
			for _, w := range ts.daemon.Writes() {
				// The decision time is Slack's clock, not the test's.
				writes = append(writes, w[:strings.Index(w, " at ")+4])
			}
			if !slices.Equal(writes, tt.wantWrites) {
				t.Errorf("daemon writes = %q, want %q", writes, tt.wantWrites)
			}
			var answer string
			for _, r := range slack.Responses() {
				if r.URL == responseURL {
					answer = r.Text
				}
			}
			if answer != tt.wantAnswer {
				t.Errorf("answer to the clicker = %q, want %q", answer, tt.wantAnswer)
			}
		})
	}
}

func TestMetricsServesTheDaemonRegistry(t *testing.T) {
	ts := startServer(t, loadTestConfig(t, nil), nil)
	promotions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_promotions_total", Help: "Promotions ended."}, []string{"pipeline", "env", "result"})
	ts.reg.MustRegister(promotions)
	promotions.WithLabelValues("shop", "prod", "Succeeded").Add(2)
	status, h, body := ts.call(t, "GET", "/metrics", "", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", status, h.Get("Content-Type"))
	}
	if want := `ferry_promotions_total{env="prod",pipeline="shop",result="Succeeded"} 2`; !strings.Contains(body, want) {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
	if strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics come from the global registry:\n%s", body)
	}
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	cfg := loadTestConfig(t, nil)
	s, err := New(t.Context(), Options{Config: cfg, Daemon: servertest.NewDaemon(cfg), Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz over TCP = %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// A clicker mapped by e-mail: the server hands the interactions handler the
// bot token and the Slack API address from chat.slack, so the handler can
// look the clicker's address up with users.info.
func TestSlackClickMappedByEmail(t *testing.T) {
	slack := slackserver.New(slackToken)
	t.Cleanup(slack.Close)
	slack.AddUser(slackserver.User{ID: "U0BOBMAIL01", Name: "bob", Email: "bob@shop.example"})
	cfg := loadTestConfig(t, func(text string) string {
		text = strings.Replace(text, "channel: C0FERRY01 }", "channel: C0FERRY01, apiURL: "+slack.APIURL()+" }", 1)
		return strings.Replace(text, "U0G9QF9C6: carol }", "U0G9QF9C6: carol, Bob@Shop.Example: bob }", 1)
	})
	ts := startServer(t, cfg, func(o *Options) { o.SlackHTTPClient = &http.Client{Timeout: 10 * time.Second} })
	responseURL := slack.ResponseURL()
	payload, err := slackserver.BlockActionsPayload(slackserver.Click{
		UserID: "U0BOBMAIL01", ActionID: "ferry_approve", ResponseURL: responseURL,
		Value: `{"pipeline":"shop","environment":"prod","revision":"` + shaB + `"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := slackserver.SendInteraction(t.Context(), ts.Client(), ts.URL+"/slack/interactions", slackSigning, time.Now(), payload)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	ts.srv.slack.Wait()
	var writes []string
	for _, w := range ts.daemon.Writes() {
		writes = append(writes, w[:strings.Index(w, " at ")+4])
	}
	if want := []string{"decide shop/prod " + shaB + " by bob via slack at "}; !slices.Equal(writes, want) {
		t.Errorf("daemon writes = %q, want %q", writes, want)
	}
	if calls := slack.Calls("users.info"); len(calls) != 1 {
		t.Errorf("users.info called %d times, want 1", len(calls))
	}
}
