package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

func TestRevisionThroughDevStagingProdIsOneMessageUpdatedInPlace(t *testing.T) {
	n, srv, w := newTestSlack(t, nil)
	ctx := context.Background()
	for _, ev := range loadEvents(t, "story.json") {
		if err := n.Notify(ctx, ev); err != nil {
			t.Fatalf("%s %s: %v", ev.Kind, ev.Environment, err)
		}
	}
	msgs := srv.Messages(testChannel)
	if len(msgs) != 1 {
		t.Fatalf("got %d parent messages, want 1", len(msgs))
	}
	parent := msgs[0]
	if parent.Updates != 10 {
		t.Errorf("parent updated %d times, want 10", parent.Updates)
	}
	if parent.Metadata == nil || parent.Metadata.EventType != "ferry_revision" ||
		parent.Metadata.EventPayload["pipeline"] != "web" || parent.Metadata.EventPayload["revision"] != testSHA {
		t.Errorf("parent metadata = %+v, want ferry_revision web@%s", parent.Metadata, testSHA)
	}
	wantParent := strings.Join([]string{
		"`3f2c1a9` *Raise web replicas to 3 &amp; pin &lt;nginx&gt;*\nAlice Example · pipeline *web*",
		"changed: `values-prod.yaml`, `templates/deployment.yaml`",
		"*dev* ✅ 42s",
		"*staging* ✅ 1m05s",
		"*prod* ↩️ health failed; back on Helm revision 41\n_approved by @alice at 10:02_",
	}, "\n")
	if got := slackserver.BlockText(parent); got != wantParent {
		t.Errorf("parent reads\n%s\nwant\n%s", got, wantParent)
	}

	replies := srv.Replies(testChannel, parent.TS)
	var heads []string
	for _, r := range replies {
		heads = append(heads, strings.SplitN(slackserver.BlockText(r), "\n", 2)[0])
	}
	wantHeads := []string{
		"📝 *dev* changes for `3f2c1a9`",
		"✅ *dev* health passed: 3/3 objects healthy",
		"✅ *staging* load test passed: p95 142ms &lt;= 300ms, 0.0% errors",
		"❌ *prod* health failed: pod web-7d9 container app: ImagePullBackOff (image nginx:1.2-missing)",
		"↩️ prod rolled back: health failed; back on Helm revision 41",
		"❌ *prod* error",
	}
	if !slices.Equal(heads, wantHeads) {
		t.Errorf("thread replies start\n%s\nwant\n%s", strings.Join(heads, "\n"), strings.Join(wantHeads, "\n"))
	}
	if len(w.all()) != 0 {
		t.Errorf("waited %v on a healthy server", w.all())
	}
	var out strings.Builder
	if err := srv.Print(&out, testChannel); err != nil {
		t.Fatal(err)
	}
	golden(t, "story-slack.txt", out.String())
}

func TestReplayedEventsChangeNothing(t *testing.T) {
	n, srv, _ := newTestSlack(t, nil)
	ctx := context.Background()
	evs := loadEvents(t, "story.json")
	for _, ev := range evs {
		if err := n.Notify(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	before := len(srv.Transcript())
	// The reconciler's outbox may hand over an event again after a crash.
	for _, ev := range evs[len(evs)-3:] {
		if err := n.Notify(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Transcript()[before:]; len(got) != 0 {
		t.Errorf("replay made %d calls (%+v), want none", len(got), got)
	}
}

func TestApprovalButtonsComeAndGo(t *testing.T) {
	evs := loadEvents(t, "story.json")
	waiting, approved := evs[9], evs[10]
	tests := []struct {
		name        string
		events      []ferry.Event
		wantButtons bool
		wantProd    string
	}{
		{"waiting for approval shows buttons", []ferry.Event{evs[0], waiting}, true,
			"*prod* ⏸ waiting for approval (0 of 1)\n[Approve prod] [Reject]"},
		{"a click replaces the buttons with who approved", []ferry.Event{evs[0], waiting, approved}, false,
			"*prod* ⏸ waiting for approval (0 of 1)\n_approved by @alice at 10:02_"},
		{"a rejection is shown with its reason", []ferry.Event{evs[0], waiting, func() ferry.Event {
			ev := approved
			a := *ev.Approval
			a.Actor, a.Rejected, a.Reason = "bob", true, "not during the sale"
			ev.Approval = &a
			return ev
		}()}, false, "*prod* ⏸ waiting for approval (0 of 1)\n_rejected by @bob at 10:02: not during the sale_"},
		{"one of two approvals keeps the buttons", []ferry.Event{evs[0], waiting, func() ferry.Event {
			ev := approved
			p := *waiting.Promotion
			p.Reason = "waiting for approval (1 of 2)"
			ev.Promotion = &p
			return ev
		}()}, true, "*prod* ⏸ waiting for approval (1 of 2)\n_approved by @alice at 10:02_\n[Approve prod] [Reject]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, srv, _ := newTestSlack(t, nil)
			for _, ev := range tc.events {
				if err := n.Notify(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			parent := srv.Messages(testChannel)[0]
			text := slackserver.BlockText(parent)
			_, prod, _ := strings.Cut(text, "*staging* · not yet\n")
			if prod != tc.wantProd {
				t.Errorf("prod reads %q, want %q", prod, tc.wantProd)
			}
			hasValue := strings.Contains(string(parent.Blocks), `"value":"{\"pipeline\":\"web\",\"environment\":\"prod\",\"revision\":\"`+testSHA+`\"}"`)
			if hasValue != tc.wantButtons {
				t.Errorf("button value present = %v, want %v", hasValue, tc.wantButtons)
			}
		})
	}
}

func TestSupersededRevisionIsMarked(t *testing.T) {
	n, srv, _ := newTestSlack(t, nil)
	ev := revEvent(ferry.EventPhaseChanged, "prod")
	ev.Promotion = &ferry.Promotion{Phase: ferry.PhaseWaiting, Reason: "waiting for approval (0 of 1)",
		Gates: []ferry.GateResult{{Gate: ferry.GateApproval, Verdict: ferry.VerdictPending}}}
	sup := revEvent(ferry.EventPhaseChanged, "prod")
	sup.Promotion = &ferry.Promotion{Phase: ferry.PhaseSuperseded, Reason: "superseded by 9a8b7c6"}
	for _, e := range []ferry.Event{ev, sup} {
		if err := n.Notify(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	want := "`3f2c1a9` *Raise web replicas to 3*\nAlice Example · pipeline *web*\n⏭ superseded by 9a8b7c6\n" +
		"*dev* · not yet\n*staging* · not yet\n*prod* ⏭ superseded by 9a8b7c6"
	if got := slackserver.BlockText(srv.Messages(testChannel)[0]); got != want {
		t.Errorf("parent reads\n%s\nwant\n%s", got, want)
	}
}

func TestTenThousandLineDiffPosts(t *testing.T) {
	n, srv, _ := newTestSlack(t, nil)
	var diff strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&diff, "+  line-%05d: value with <angle> & ampersand\n", i)
	}
	ev := revEvent(ferry.EventDiff, "dev")
	ev.Diff = diff.String()
	if err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("a 10,000-line diff must post: %v", err)
	}
	parent := srv.Messages(testChannel)[0]
	replies := srv.Replies(testChannel, parent.TS)
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1", len(replies))
	}
	text := slackserver.BlockText(replies[0])
	// Each escaped line is 56 characters with its newline; the section keeps
	// the 53 that fit in 3000 beside the fences and the marker.
	if !strings.HasSuffix(text, "+  line-00052: value with &lt;angle&gt; &amp; ampersand\n… 9947 more lines\n```") {
		t.Errorf("diff section ends\n%s", text[max(0, len(text)-200):])
	}
	for _, c := range srv.Calls("chat.postMessage") {
		if c.Outcome != "ok" {
			t.Errorf("post %+v not ok", c)
		}
	}
}

func TestDeliveryRetries(t *testing.T) {
	tests := []struct {
		name      string
		backoff   Backoff
		faults    []slackserver.Fault
		wantWaits []time.Duration
		wantCalls []string
		wantErr   string
	}{
		{
			name:      "429 with Retry-After waits that long and posts once",
			faults:    []slackserver.Fault{{Status: 429, RetryAfter: "7"}},
			wantWaits: []time.Duration{7 * time.Second},
			wantCalls: []string{"chat.postMessage HTTP 429 (Retry-After: 7)", "chat.postMessage ok"},
		},
		{
			name:      "429 without Retry-After backs off exponentially",
			faults:    []slackserver.Fault{{Status: 429}, {Status: 429}, {Status: 429}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			wantCalls: []string{"chat.postMessage HTTP 429", "chat.postMessage HTTP 429", "chat.postMessage HTTP 429", "chat.postMessage ok"},
		},
		{
			name:      "backoff stops growing at the maximum",
			backoff:   Backoff{Initial: time.Second, Max: 3 * time.Second},
			faults:    []slackserver.Fault{{Status: 429}, {Status: 429}, {Status: 429}, {Status: 429}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second},
			wantCalls: []string{"chat.postMessage HTTP 429", "chat.postMessage HTTP 429", "chat.postMessage HTTP 429", "chat.postMessage HTTP 429", "chat.postMessage ok"},
		},
		{
			name:      "a 500 may have posted, so history is read before posting again",
			faults:    []slackserver.Fault{{Status: 500}},
			wantWaits: []time.Duration{time.Second},
			wantCalls: []string{"chat.postMessage HTTP 500", "conversations.history ok", "chat.postMessage ok"},
		},
		{
			name:      "ratelimited in the body is transient",
			faults:    []slackserver.Fault{{Error: "ratelimited"}},
			wantWaits: []time.Duration{time.Second},
			wantCalls: []string{"chat.postMessage error: ratelimited", "chat.postMessage ok"},
		},
		{
			name:      "channel_not_found is permanent and not retried",
			faults:    []slackserver.Fault{{Error: "channel_not_found"}},
			wantCalls: []string{"chat.postMessage error: channel_not_found"},
			wantErr:   "post revision message: slack refused with channel_not_found: chat.slack.channel must be the channel's ID (C0123ABCD), not its name, and the app must be able to see it",
		},
		{
			name:      "not_in_channel is permanent and not retried",
			faults:    []slackserver.Fault{{Error: "not_in_channel"}},
			wantCalls: []string{"chat.postMessage error: not_in_channel"},
			wantErr:   "post revision message: slack refused with not_in_channel: invite the ferry app to the channel (/invite @ferry)",
		},
		{
			name:      "transient errors give up after the attempts",
			backoff:   Backoff{Attempts: 3},
			faults:    []slackserver.Fault{{Status: 503}, {Status: 503}, {Status: 503}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second},
			wantCalls: []string{"chat.postMessage HTTP 503", "conversations.history ok", "chat.postMessage HTTP 503", "conversations.history ok", "chat.postMessage HTTP 503"},
			wantErr:   "post revision message: gave up after 3 attempts: slack server error: 503 Service Unavailable",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, srv, w := newTestSlack(t, func(o *SlackOptions) { o.Retry = tc.backoff })
			srv.Inject("chat.postMessage", tc.faults...)
			err := n.Notify(context.Background(), revEvent(ferry.EventRevisionDetected, ""))
			if got := errText(err); !strings.Contains(got, tc.wantErr) || (tc.wantErr == "") != (err == nil) {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
			if tc.wantErr != "" && strings.Contains(tc.wantErr, "refused") {
				var perm *PermanentError
				if !errors.As(err, &perm) {
					t.Errorf("error %T is not a *PermanentError", err)
				}
			}
			if got := w.all(); !slices.Equal(got, tc.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tc.wantWaits)
			}
			if got := callLines(srv); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.wantCalls, "\n"))
			}
			wantMsgs := 1
			if err != nil {
				wantMsgs = 0
			}
			if got := len(srv.Messages(testChannel)); got != wantMsgs {
				t.Errorf("%d messages delivered, want %d", got, wantMsgs)
			}
		})
	}
}

func TestWrongTokenIsPermanent(t *testing.T) {
	n, srv, w := newTestSlack(t, func(o *SlackOptions) { o.Token = "xoxb-wrong" })
	err := n.Notify(context.Background(), revEvent(ferry.EventRevisionDetected, ""))
	var perm *PermanentError
	if !errors.As(err, &perm) || perm.Code != "invalid_auth" {
		t.Fatalf("error = %v, want a permanent invalid_auth", err)
	}
	if strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("error %q shows the token", err)
	}
	if got := len(srv.Transcript()); got != 1 || len(w.all()) != 0 {
		t.Errorf("%d calls and waits %v, want 1 call and no waits", got, w.all())
	}
	if err := n.Check(context.Background()); !errors.As(err, &perm) || perm.Code != "invalid_auth" {
		t.Errorf("Check = %v, want a permanent invalid_auth", err)
	}
}

func TestTimeoutAfterAcceptDoesNotPostTwice(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		events    func() []ferry.Event
		wantCalls []string
	}{
		{
			name:   "parent message",
			method: "chat.postMessage",
			events: func() []ferry.Event { return []ferry.Event{revEvent(ferry.EventRevisionDetected, "")} },
			wantCalls: []string{
				"chat.postMessage accepted, no answer", "conversations.history ok", "chat.update ok",
			},
		},
		{
			name:   "thread reply",
			method: "chat.postMessage",
			events: func() []ferry.Event {
				ev := revEvent(ferry.EventError, "dev")
				ev.Message = "templates/deployment.yaml:14:22: nil pointer evaluating .Values.image.tag"
				return []ferry.Event{revEvent(ferry.EventRevisionDetected, ""), ev}
			},
			wantCalls: []string{
				"chat.postMessage ok", "chat.postMessage accepted, no answer", "conversations.replies ok",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, srv, w := newTestSlack(t, func(o *SlackOptions) { o.RequestTimeout = 300 * time.Millisecond })
			evs := tc.events()
			for i, ev := range evs {
				if i == len(evs)-1 {
					srv.Inject(tc.method, slackserver.Fault{AcceptThenHang: true})
				}
				if err := n.Notify(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			if got := callLines(srv); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.wantCalls, "\n"))
			}
			if got := w.all(); !slices.Equal(got, []time.Duration{time.Second}) {
				t.Errorf("waits = %v, want [1s]", got)
			}
			msgs := srv.Messages(testChannel)
			if len(msgs) != 1 {
				t.Fatalf("%d parent messages, want 1", len(msgs))
			}
			if got := len(srv.Replies(testChannel, msgs[0].TS)); got != len(evs)-1 {
				t.Errorf("%d replies, want %d", got, len(evs)-1)
			}
		})
	}
}

func TestRestartAfterUnknownOutcomeLooksUpFirst(t *testing.T) {
	store := NewMemoryStore()
	first, srv, _ := newTestSlack(t, func(o *SlackOptions) {
		o.Store, o.RequestTimeout, o.Retry = store, 300*time.Millisecond, Backoff{Attempts: 1}
	})
	srv.Inject("chat.postMessage", slackserver.Fault{AcceptThenHang: true})
	if err := first.Notify(context.Background(), revEvent(ferry.EventRevisionDetected, "")); err == nil {
		t.Fatal("a single attempt that timed out must fail")
	}
	st, _, _ := store.Get(context.Background(), MessageKey{Pipeline: "web", Revision: testSHA})
	if !st.Posting || st.TS != "" {
		t.Fatalf("state after the failure = %+v, want the posting intent and no ts", st)
	}

	// A new notifier (ferry restarted) with the same durable state.
	second, err := NewSlack(SlackOptions{Token: testToken, Channel: testChannel, APIURL: srv.APIURL(), Store: store,
		Environments: map[string][]string{"web": {"dev", "staging", "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Notify(context.Background(), revEvent(ferry.EventRevisionDetected, "")); err != nil {
		t.Fatal(err)
	}
	want := []string{"chat.postMessage accepted, no answer", "conversations.history ok", "chat.update ok"}
	if got := callLines(srv); !slices.Equal(got, want) {
		t.Errorf("calls =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st, _, _ = store.Get(context.Background(), MessageKey{Pipeline: "web", Revision: testSHA})
	if st.Posting || st.TS != srv.Messages(testChannel)[0].TS {
		t.Errorf("state = %+v, want the found message's ts and no intent", st)
	}
}

// A thread reply whose post was accepted but never answered, and the process
// gone before it could record it: the next process looks for the reply in
// the thread first and does not post it again.
func TestRestartAfterUnknownReplyOutcomeLooksUpFirst(t *testing.T) {
	store := NewMemoryStore()
	first, srv, _ := newTestSlack(t, func(o *SlackOptions) {
		o.Store, o.RequestTimeout, o.Retry = store, 300*time.Millisecond, Backoff{Attempts: 1}
	})
	ctx := context.Background()
	if err := first.Notify(ctx, revEvent(ferry.EventRevisionDetected, "")); err != nil {
		t.Fatal(err)
	}
	gate := revEvent(ferry.EventGateResult, "dev")
	gate.Gates = []ferry.GateResult{{Gate: "health", Verdict: ferry.VerdictPassed, Reason: "3/3 objects healthy"}}
	srv.Inject("chat.postMessage", slackserver.Fault{AcceptThenHang: true})
	if err := first.Notify(ctx, gate); err == nil {
		t.Fatal("a single attempt that timed out must fail")
	}
	key := MessageKey{Pipeline: "web", Revision: testSHA}
	st, _, _ := store.Get(ctx, key)
	if st.Replying == "" || len(st.Delivered) != 0 {
		t.Fatalf("state after the failure = %+v, want the reply's intent and nothing delivered", st)
	}

	second, err := NewSlack(SlackOptions{Token: testToken, Channel: testChannel, APIURL: srv.APIURL(), Store: store,
		Environments: map[string][]string{"web": {"dev", "staging", "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Notify(ctx, gate); err != nil {
		t.Fatal(err)
	}
	parent := srv.Messages(testChannel)[0]
	if n := len(srv.Replies(testChannel, parent.TS)); n != 1 {
		t.Errorf("the thread holds %d replies, want the one reply once", n)
	}
	want := []string{"chat.postMessage ok", "chat.postMessage accepted, no answer", "conversations.replies ok"}
	if got := callLines(srv); !slices.Equal(got, want) {
		t.Errorf("calls =\n%s\nwant\n%s (a look in the thread, no second post)", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st, _, _ = store.Get(ctx, key)
	if st.Replying != "" || len(st.Delivered) != 1 {
		t.Errorf("state = %+v, want the reply delivered and no intent", st)
	}
}

func TestNewSlackRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts SlackOptions
		want string
	}{
		{"no token", SlackOptions{Channel: "C0123ABCD"}, "slack notifier: no bot token (chat.slack.tokenFile)"},
		{"channel name instead of ID", SlackOptions{Token: "xoxb-1", Channel: "#deploys"},
			`slack notifier: channel "#deploys" is not a channel ID: give the ID (C0123ABCD) from the channel's details, not its name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSlack(tc.opts); errText(err) != tc.want {
				t.Errorf("error = %q, want %q", errText(err), tc.want)
			}
		})
	}
}

func TestNotifyRefusesEventsWithoutKey(t *testing.T) {
	n, srv, _ := newTestSlack(t, nil)
	ev := revEvent(ferry.EventRevisionDetected, "")
	ev.Revision.SHA = ""
	want := "slack notify RevisionDetected: event needs a pipeline and a revision SHA"
	if err := n.Notify(context.Background(), ev); errText(err) != want {
		t.Errorf("error = %q, want %q", errText(err), want)
	}
	if got := len(srv.Transcript()); got != 0 {
		t.Errorf("%d calls made, want none", got)
	}
}

func callLines(srv *slackserver.Server) []string {
	var out []string
	for _, c := range srv.Transcript() {
		out = append(out, c.Method+" "+c.Outcome)
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
