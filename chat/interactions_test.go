package chat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// approvers stands in for the reconciler, which does not exist yet: it keeps
// an approver list per environment and records what it accepted.
type approvers struct {
	mu       sync.Mutex
	lists    map[string][]string
	accepted []ferry.Approval
}

func (a *approvers) Decide(_ context.Context, ap ferry.Approval) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.lists[ap.Environment], ap.Actor) {
		return fmt.Errorf("you are not an approver for %s", ap.Environment)
	}
	a.accepted = append(a.accepted, ap)
	return nil
}

func TestInteractions(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 2, 0, 0, time.UTC)
	value := `{"pipeline":"web","environment":"prod","revision":"` + testSHA + `"}`
	tests := []struct {
		name       string
		user       string
		action     string
		signedAt   time.Time
		secret     string
		tamper     bool
		wantStatus int
		wantBody   string
		wantAnswer string
		wantDecide []ferry.Approval
	}{
		{
			name: "approve with a valid signature is handed to the decider", user: "U0ALICE", action: "ferry_approve",
			signedAt: now, secret: testSecret, wantStatus: 200,
			wantAnswer: "You approved 3f2c1a9 for prod.",
			wantDecide: []ferry.Approval{{Actor: "alice", Pipeline: "web", Environment: "prod", Revision: testSHA, Time: now, Via: "slack"}},
		},
		{
			name: "reject with a valid signature is handed to the decider", user: "U0ALICE", action: "ferry_reject",
			signedAt: now.Add(-4 * time.Minute), secret: testSecret, wantStatus: 200,
			wantAnswer: "You rejected 3f2c1a9 for prod.",
			wantDecide: []ferry.Approval{{Actor: "alice", Pipeline: "web", Environment: "prod", Revision: testSHA, Time: now, Via: "slack", Rejected: true}},
		},
		{
			name: "a wrong secret is refused before parsing", user: "U0ALICE", action: "ferry_approve",
			signedAt: now, secret: "not-the-secret", wantStatus: 401, wantBody: "slack request signature does not match\n",
		},
		{
			name: "a body changed after signing is refused", user: "U0ALICE", action: "ferry_approve",
			signedAt: now, secret: testSecret, tamper: true, wantStatus: 401, wantBody: "slack request signature does not match\n",
		},
		{
			name: "a 6-minute-old timestamp is refused as a replay", user: "U0ALICE", action: "ferry_approve",
			signedAt: now.Add(-6 * time.Minute), secret: testSecret, wantStatus: 401,
			wantBody: "slack request timestamp is more than 5 minutes from now\n",
		},
		{
			name: "a timestamp 6 minutes ahead is refused", user: "U0ALICE", action: "ferry_approve",
			signedAt: now.Add(6 * time.Minute), secret: testSecret, wantStatus: 401,
			wantBody: "slack request timestamp is more than 5 minutes from now\n",
		},
		{
			name: "a mapped user who is not an approver is told so privately", user: "U0BOB", action: "ferry_approve",
			signedAt: now, secret: testSecret, wantStatus: 200, wantAnswer: "you are not an approver for prod",
		},
		{
			name: "an unmapped Slack user changes nothing", user: "U0EVE", action: "ferry_approve",
			signedAt: now, secret: testSecret, wantStatus: 200,
			wantAnswer: "Your Slack account (U0EVE) is not mapped to a ferry user; ask an admin to add it to chat.users.",
		},
		{
			name: "other buttons are acknowledged and ignored", user: "U0ALICE", action: "somebody_elses_button",
			signedAt: now, secret: testSecret, wantStatus: 200,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slackSrv := slackserver.New(testToken)
			defer slackSrv.Close()
			dec := &approvers{lists: map[string][]string{"prod": {"alice"}}}
			h, err := NewInteractions(InteractionOptions{
				SigningSecret: testSecret, Decider: dec, Now: func() time.Time { return now },
				Users: map[string]string{"U0ALICE": "alice", "U0BOB": "bob"},
			})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()

			payload, err := slackserver.BlockActionsPayload(slackserver.Click{
				UserID: tc.user, UserName: strings.ToLower(tc.user), ActionID: tc.action, Value: value,
				Channel: testChannel, MessageTS: "1700000000.000001", ResponseURL: slackSrv.ResponseURL(),
			})
			if err != nil {
				t.Fatal(err)
			}
			target := srv.URL
			var resp *http.Response
			if tc.tamper {
				resp, err = sendTampered(srv.URL, tc.secret, tc.signedAt, payload)
			} else {
				resp, err = slackserver.SendInteraction(context.Background(), srv.Client(), target, tc.secret, tc.signedAt, payload)
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h.Wait()

			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("answer = %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if !slices.EqualFunc(dec.accepted, tc.wantDecide, func(a, b ferry.Approval) bool { return a == b }) {
				t.Errorf("decided %+v, want %+v", dec.accepted, tc.wantDecide)
			}
			var answers []string
			for _, r := range slackSrv.Responses() {
				if r.ResponseType != "ephemeral" || r.ReplaceOriginal {
					t.Errorf("response %+v is not a private answer", r)
				}
				answers = append(answers, r.Text)
			}
			var want []string
			if tc.wantAnswer != "" {
				want = []string{tc.wantAnswer}
			}
			if !slices.Equal(answers, want) {
				t.Errorf("answers = %q, want %q", answers, want)
			}
		})
	}
}

// sendTampered signs the payload, then changes the body before sending.
func sendTampered(target, secret string, at time.Time, payload []byte) (*http.Response, error) {
	body := "payload=" + strings.ReplaceAll(string(payload), "ferry_approve", "ferry_reject")
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(at.Unix()))
	req.Header.Set("X-Slack-Signature", slackserver.Sign(secret, at, []byte("payload="+string(payload))))
	return http.DefaultClient.Do(req)
}

func TestInteractionsRefusesMalformedRequests(t *testing.T) {
	now := time.Date(2026, 3, 3, 10, 2, 0, 0, time.UTC)
	h, err := NewInteractions(InteractionOptions{SigningSecret: testSecret, Decider: &approvers{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(r *http.Request, body string) {
		r.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(now.Unix()))
		r.Header.Set("X-Slack-Signature", slackserver.Sign(testSecret, now, []byte(body)))
	}
	tests := []struct {
		name       string
		method     string
		body       string
		headers    func(*http.Request, string)
		wantStatus int
		wantBody   string
	}{
		{"GET is not allowed", http.MethodGet, "", sign, 405, "POST only\n"},
		{"a body over 1 MiB is refused", http.MethodPost, "payload=" + strings.Repeat("x", 1<<20), sign, 413, "request body too large\n"},
		{"no timestamp header", http.MethodPost, "payload={}", func(*http.Request, string) {}, 401,
			"slack request signature does not match: X-Slack-Request-Timestamp \"\" is not a Unix time\n"},
		{"a signed payload that is not JSON", http.MethodPost, "payload=nope", sign, 400,
			"interaction payload is not JSON: invalid character 'o' in literal null (expecting 'u')\n"},
		{"a button value that names nothing", http.MethodPost,
			`payload={"type":"block_actions","user":{"id":"U1"},"actions":[{"type":"button","block_id":"b","action_id":"ferry_approve","value":"{}"}]}`, sign, 400,
			"button value \"{}\" does not name a pipeline, environment and revision\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/slack/interactions", strings.NewReader(tc.body))
			tc.headers(req, tc.body)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			h.Wait()
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("answer = %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
		})
	}
}

func TestNewInteractionsNeedsSecretAndDecider(t *testing.T) {
	if _, err := NewInteractions(InteractionOptions{Decider: &approvers{}}); errText(err) != "slack interactions: no signing secret (chat.slack.signingSecretFile)" {
		t.Errorf("error = %v", err)
	}
	if _, err := NewInteractions(InteractionOptions{SigningSecret: "s"}); errText(err) != "slack interactions: no decider" {
		t.Errorf("error = %v", err)
	}
}
