package chat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// Signing modes of FuzzInteraction: how X-Slack-Signature is made.
const (
	fuzzSignValid     = iota // v0 HMAC under testSecret of the timestamp header and the body sent
	fuzzSignWrong            // right format, wrong secret
	fuzzSignNone             // no signature header
	fuzzSignRaw              // the header is the fuzzed string
	fuzzSignTampered         // valid for the body, then a field appended to what is sent
	fuzzSignOtherTime        // valid for the body at another timestamp than the one sent
	fuzzSignModes
)

// recordingDecider records every decision that reaches it and hands it on
// to the approver list the interaction tests use.
type recordingDecider struct {
	mu    sync.Mutex
	calls []ferry.Approval
	next  *approvers
}

func (d *recordingDecider) Decide(ctx context.Context, a ferry.Approval) error {
	d.mu.Lock()
	d.calls = append(d.calls, a)
	d.mu.Unlock()
	return d.next.Decide(ctx, a)
}

// roundTripFunc answers the handler's posts to response_url without a
// network: a fuzzed payload names any URL it likes.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzInteraction drives Interactions.ServeHTTP, which verifies Slack's
// request signature and then parses the form-encoded payload and the
// button's value. It must never panic; a request whose signature or
// timestamp does not verify (checked here independently of the handler) is
// answered 401, reaches no decider and posts no answer; a body over the
// limit is answered 413 before anything else; and what reaches the decider
// is a complete decision from a mapped Slack user, stamped with the
// handler's clock.
func FuzzInteraction(f *testing.F) {
	now := time.Date(2026, 3, 3, 10, 2, 0, 0, time.UTC)
	click := func(action, value string) string {
		p, err := slackserver.BlockActionsPayload(slackserver.Click{
			UserID: "U0ALICE", UserName: "alice", ActionID: action, Value: value,
			Channel: testChannel, MessageTS: "1700000000.000001", ResponseURL: "https://hooks.slack.test/actions/T0/1/x",
		})
		if err != nil {
			f.Fatal(err)
		}
		return string(p)
	}
	value := `{"pipeline":"web","environment":"prod","revision":"` + testSHA + `"}`
	approve := click(actionApprove, value)

	// The bad inputs of issue 15 that fit an interaction.
	f.Add(true, approve, int64(0), "", uint8(fuzzSignValid), "", false)            // valid signed approve
	f.Add(true, approve, int64(0), "", uint8(fuzzSignWrong), "", false)            // bad signature
	f.Add(true, approve, int64(0), "", uint8(fuzzSignNone), "", false)             // no signature
	f.Add(true, approve, int64(0), "", uint8(fuzzSignTampered), "", false)         // body changed after signing
	f.Add(true, approve, int64(0), "", uint8(fuzzSignOtherTime), "", false)        // signature for another time
	f.Add(true, approve, int64(-301), "", uint8(fuzzSignValid), "", false)         // stale timestamp
	f.Add(true, approve, int64(-6*60), "", uint8(fuzzSignValid), "", false)        // 6 minutes old
	f.Add(true, approve, int64(301), "", uint8(fuzzSignValid), "", false)          // future timestamp
	f.Add(true, approve, int64(-300), "", uint8(fuzzSignValid), "", false)         // edge of the window
	f.Add(true, approve, int64(0), "not-a-time", uint8(fuzzSignValid), "", false)  // timestamp not a number
	f.Add(true, approve, int64(0), "+1772532120", uint8(fuzzSignValid), "", false) // signed timestamp with a sign
	f.Add(true, approve, int64(0), "99999999999999999999", uint8(fuzzSignValid), "", false)
	f.Add(true, click(actionApprove, `{"pipeline":"web","environment":"prod"}`), int64(0), "", uint8(fuzzSignValid), "", false) // no revision
	f.Add(true, click(actionApprove, `{}`), int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, click(actionApprove, `not json`), int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, click(actionReject, value), int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, click("somebody_elses_button", value), int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, strings.Replace(approve, "U0ALICE", "U0EVE", 1), int64(0), "", uint8(fuzzSignValid), "", false) // unmapped user
	f.Add(true, strings.Replace(approve, "U0ALICE", "U0BOB", 1), int64(0), "", uint8(fuzzSignValid), "", false) // not an approver
	f.Add(true, "nope", int64(0), "", uint8(fuzzSignValid), "", false)                                          // payload not JSON
	f.Add(false, "payload=%zz", int64(0), "", uint8(fuzzSignValid), "", false)                                  // body not a form
	f.Add(false, "", int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, `{"type":"view_submission"}`, int64(0), "", uint8(fuzzSignValid), "", false)
	f.Add(true, approve, int64(0), "", uint8(fuzzSignValid), "", true)           // oversize, signed
	f.Add(true, approve, int64(0), "", uint8(fuzzSignNone), "", true)            // oversize, unsigned
	f.Add(true, approve, int64(0), "", uint8(fuzzSignRaw), "v0=", false)         // empty signature
	f.Add(true, approve, int64(0), "", uint8(fuzzSignRaw), "v0=zz", false)       // signature not hex
	f.Add(true, approve, int64(0), "", uint8(fuzzSignRaw), "v1="+testSHA, false) // other scheme
	f.Add(true, approve, int64(1<<62), "", uint8(fuzzSignValid), "", false)      // far future
	f.Add(true, approve, int64(-1<<63), "", uint8(fuzzSignValid), "", false)     // far past
	f.Add(true, strings.Replace(approve, "https://hooks.slack.test", "://", 1), int64(0), "", uint8(fuzzSignValid), "", false)

	f.Fuzz(func(t *testing.T, form bool, payload string, tsOffset int64, tsRaw string, mode uint8, rawSig string, oversize bool) {
		body := payload
		if form {
			body = url.Values{"payload": {payload}}.Encode()
		}
		if pad := maxInteractionBody + 1 - len(body); oversize && pad > 0 {
			body += "&pad=" + strings.Repeat("x", pad)
		}
		tsText := tsRaw
		if tsText == "" {
			tsText = strconv.FormatInt(now.Unix()+tsOffset, 10)
		}
		sign := func(secret, ts, body string) string {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte("v0:" + ts + ":" + body))
			return "v0=" + hex.EncodeToString(mac.Sum(nil))
		}
		sent, sig := body, ""
		switch mode % fuzzSignModes {
		case fuzzSignValid:
			sig = sign(testSecret, tsText, body)
		case fuzzSignWrong:
			sig = sign("not-the-secret", tsText, body)
		case fuzzSignRaw:
			sig = rawSig
		case fuzzSignTampered:
			sig, sent = sign(testSecret, tsText, body), body+"&user=U0ALICE"
		case fuzzSignOtherTime:
			sig = sign(testSecret, tsText+"0", body)
		}
		req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(sent))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", tsText)
		if mode%fuzzSignModes != fuzzSignNone {
			req.Header.Set("X-Slack-Signature", sig)
		}
		// Independently of the handler: Slack's scheme, with the timestamp
		// within five minutes of the handler's clock.
		ts, err := strconv.ParseInt(tsText, 10, 64)
		verified := err == nil && ts >= now.Unix()-300 && ts <= now.Unix()+300 &&
			strings.HasPrefix(sig, "v0=") && mode%fuzzSignModes != fuzzSignNone &&
			strings.ToLower(sig) == sign(testSecret, tsText, sent)

		dec := &recordingDecider{next: &approvers{lists: map[string][]string{"prod": {"alice"}}}}
		var posts int
		var postsMu sync.Mutex
		h, err := NewInteractions(InteractionOptions{
			SigningSecret: testSecret, Decider: dec, Now: func() time.Time { return now },
			Users: map[string]string{"U0ALICE": "alice", "U0BOB": "bob"},
			HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				postsMu.Lock()
				posts++
				postsMu.Unlock()
				return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
			})},
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		h.Wait()
		status, answer := rec.Code, rec.Body.String()

		if strings.Contains(answer, testSecret) {
			t.Fatalf("answer leaks the signing secret: %q", answer)
		}
		switch {
		case len(sent) > maxInteractionBody:
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body answered %d %q, want 413", len(sent), status, answer)
			}
		case !verified:
			if status != http.StatusUnauthorized {
				t.Fatalf("unverified request (timestamp %q, signature %q) answered %d %q, want 401", tsText, sig, status, answer)
			}
		default:
			if status != http.StatusOK && status != http.StatusBadRequest {
				t.Fatalf("verified request answered %d %q", status, answer)
			}
		}
		if (status != http.StatusOK) && (len(dec.calls) > 0 || posts > 0) {
			t.Fatalf("answered %d %q, yet decided %+v and posted %d answers", status, answer, dec.calls, posts)
		}
		if len(dec.calls) > 1 {
			t.Fatalf("one click decided %d times: %+v", len(dec.calls), dec.calls)
		}
		for _, a := range dec.calls {
			if (a.Actor != "alice" && a.Actor != "bob") || a.Pipeline == "" || a.Environment == "" || a.Revision == "" ||
				a.Via != "slack" || !a.Time.Equal(now) {
				t.Fatalf("incomplete decision reached the decider: %+v", a)
			}
		}
	})
}
