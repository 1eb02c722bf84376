package reconciler

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// bigDiff is a diff near maxEventText, as a large upgrade shows.
func bigDiff(i int) string {
	var b strings.Builder
	for b.Len() < maxEventText-100 {
		fmt.Fprintf(&b, "~ Deployment/web-%d spec.template.spec.containers[0].env[%d]: \"old-value\" → \"new-value\"\n", i, b.Len())
	}
	return b.String()
}

// floodEvent is one of a long outage's events about revision rev in env.
func floodEvent(i int, rev ferry.Revision, env string) ferry.Event {
	files := make([]string, ferry.MaxChangedFiles)
	for j := range files {
		files[j] = fmt.Sprintf("charts/web/templates/generated/resource-%03d-with-a-long-name.yaml", j)
	}
	rev.ChangedFiles, rev.ChangedFilesMore = files, 400
	pr := &ferry.Promotion{ID: fmt.Sprintf("app-%s-%d", env, 100+i%7), Pipeline: "app", Environment: env, Revision: rev,
		Phase: ferry.PhaseVerifying, Reason: "verifying", Created: time.Now(), Updated: time.Now()}
	switch i % 3 {
	case 0:
		return ferry.Event{Kind: ferry.EventDiff, Time: time.Now(), Pipeline: "app", Environment: env, Revision: rev, Promotion: pr, Diff: bigDiff(i)}
	case 1:
		return ferry.Event{Kind: ferry.EventError, Time: time.Now(), Pipeline: "app", Environment: env, Revision: rev, Promotion: pr,
			Message: "values-" + env + ".yaml:12: " + strings.Repeat("<&> not valid here; ", 200)}
	default:
		pr.Phase = ferry.PhaseApplying
		return ferry.Event{Kind: ferry.EventPhaseChanged, Time: time.Now(), Pipeline: "app", Environment: env, Revision: rev, Promotion: pr}
	}
}

// The state stays under what a ConfigMap holds however many events an outage
// piles up: the outbox is capped (the oldest dropped and counted), and what
// still does not fit is dropped from the outbox, never the chat message
// states, which are what keeps a revision to one Slack message.
func TestOutboxCannotOverflowState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		events int
		// revisions the events are spread over.
		revisions int
		// coalesce: phase changes of the same few promotions only.
		coalesce bool
	}{
		{name: "many large events over two revisions", events: 2000, revisions: 2},
		{name: "many large events over forty revisions", events: 2000, revisions: 40},
		{name: "phase changes of a few promotions coalesce", events: 5000, revisions: 3, coalesce: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newPipelineState("app")
			revs := make([]ferry.Revision, c.revisions)
			for i := range revs {
				revs[i] = ferry.Revision{SHA: fmt.Sprintf("%040x", i+1), Subject: strings.Repeat("subject ", 10), Author: "Dev <dev@example.com>"}
			}
			// Chat knew every revision before the outage.
			for _, r := range revs {
				st.putMessage(chat.MessageState{Key: chat.MessageKey{Pipeline: "app", Revision: r.SHA}, Channel: "C1", TS: "1700000000.000100"})
			}
			wantMessages := min(c.revisions, maxMessages)
			enqueued := 0
			for i := range c.events {
				ev := floodEvent(i, revs[i%c.revisions], []string{"dev", "staging", "prod"}[i%3])
				if ev.Kind == ferry.EventPhaseChanged {
					// A gate result instead: phase changes coalesce, which the
					// last case covers; here every event is kept or dropped.
					ev.Kind, ev.Gates = ferry.EventGateResult, []ferry.GateResult{{Gate: "health", Verdict: ferry.VerdictFailed, Reason: strings.Repeat("pod web-0 not ready; ", 100)}}
				}
				if c.coalesce {
					ev = ferry.Event{Kind: ferry.EventPhaseChanged, Time: time.Now(), Pipeline: "app", Environment: "dev", Revision: ev.Revision,
						Promotion: &ferry.Promotion{ID: fmt.Sprintf("app-dev-%d", i%c.revisions), Revision: ev.Revision, Phase: []ferry.Phase{ferry.PhaseWaiting, ferry.PhaseApplying, ferry.PhaseVerifying}[i%3]}}
				}
				if st.enqueue(ev) {
					enqueued++
				}
				// Each step of the daemon encodes the state it writes.
				if i%50 == 49 {
					data, err := encodeState(st)
					if err != nil {
						t.Fatalf("after %d events: %v", i+1, err)
					}
					if len(data) > maxStateBytes {
						t.Fatalf("after %d events the state is %d bytes, over %d", i+1, len(data), maxStateBytes)
					}
				}
			}
			if len(st.Outbox) > maxOutbox {
				t.Errorf("outbox holds %d events, over %d", len(st.Outbox), maxOutbox)
			}
			if len(st.Messages) != wantMessages {
				t.Errorf("%d chat message states kept, want %d: a revision whose state is lost gets a second Slack message", len(st.Messages), wantMessages)
			}
			if c.coalesce {
				if st.Dropped != 0 || len(st.Outbox) > coalesceAbove+c.revisions {
					t.Errorf("coalesced outbox holds %d events with %d dropped, want at most %d and none dropped", len(st.Outbox), st.Dropped, coalesceAbove+c.revisions)
				}
				return
			}
			if st.Dropped == 0 || st.Dropped+len(st.Outbox) != enqueued {
				t.Errorf("%d events kept and %d dropped, want %d in all with some dropped", len(st.Outbox), st.Dropped, enqueued)
			}
			for i := 1; i < len(st.Outbox); i++ {
				if st.Outbox[i].ID <= st.Outbox[i-1].ID {
					t.Fatalf("outbox out of order at %d", i)
				}
			}
			if last := st.Outbox[len(st.Outbox)-1].ID; last != st.OutboxSeq {
				t.Errorf("newest event %d was dropped (seq %d): the oldest must go first", last, st.OutboxSeq)
			}
		})
	}
}

// slackSwitch is a proxy in front of the Slack-protocol server that answers
// 503 to every call while down: a chat outage.
type slackSwitch struct {
	down  atomic.Bool
	calls atomic.Int32
	srv   *httptest.Server
}

func newSlackSwitch(t *testing.T, target string) *slackSwitch {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &slackSwitch{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			s.calls.Add(1)
			http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// A long chat outage while ferry works and events pile up: the state
// ConfigMap stays under its limit, and once Slack answers again every
// revision still has exactly one message (those posted before the outage are
// updated, the new one posted once), the drop is told once with its count,
// and the outbox drains.
func TestLongChatOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []envSpec{{name: "dev"}, {name: "staging", from: "dev"}}, "")
	sw := newSlackSwitch(t, f.slack.APIURL())
	f.cfg.Chat.Slack.APIURL = sw.srv.URL + "/api/"
	d := f.newReplica("a").start(t)
	ctx := context.Background()
	drained := func() {
		t.Helper()
		// Generous: after the outage each delivery reads and writes a state
		// near the ConfigMap limit, slow under -race on a loaded machine.
		eventually(t, 300*time.Second, "outbox drained", func() (bool, string) {
			st, _, err := d.store.load(ctx, "app")
			if err != nil {
				return false, err.Error()
			}
			return len(st.Outbox) == 0, fmt.Sprintf("%d events left", len(st.Outbox))
		})
	}

	// Two revisions go all the way while chat works.
	sha1 := f.commit("first", chartFiles())
	f.waitPhase(d.Daemon, "staging", sha1, ferry.PhaseSucceeded)
	sha2 := f.commit("second", map[string]string{"values-dev.yaml": "greeting: dev two\n", "values-staging.yaml": "greeting: staging two\n"})
	f.waitPhase(d.Daemon, "staging", sha2, ferry.PhaseSucceeded)
	drained()
	if n := len(f.parents()); n != 2 {
		t.Fatalf("%d revision messages before the outage, want 2", n)
	}

	sw.down.Store(true)
	// A third revision goes all the way during the outage...
	sha3 := f.commit("third", map[string]string{"values-dev.yaml": "greeting: dev three\n", "values-staging.yaml": "greeting: staging three\n"})
	f.waitPhase(d.Daemon, "staging", sha3, ferry.PhaseSucceeded)
	// ...and a long outage's worth of events piles up about all three, as
	// many steps would record them.
	s := f.stateWriter()
	revs := map[string]ferry.Revision{}
	for _, env := range []string{"dev", "staging"} {
		h, err := d.History(ctx, "app", env, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range h {
			revs[p.Revision.SHA] = p.Revision
		}
	}
	shas := []string{sha1, sha2, sha3}
	const flood, batch = 600, 60
	maxSize := 0
	for i := 0; i < flood; i += batch {
		err := s.update(ctx, "app", func(st *pipelineState) error {
			for j := i; j < i+batch; j++ {
				st.enqueue(floodEvent(j, revs[shas[j%3]], []string{"dev", "staging"}[j%2]))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("recording events %d-%d: %v", i, i+batch, err)
		}
		maxSize = max(maxSize, len(f.configMap(configMapName("app")).Data[stateKey]))
	}
	if maxSize > maxStateBytes {
		t.Errorf("state grew to %d bytes, over %d", maxSize, maxStateBytes)
	}
	st, _, err := s.load(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	dropped := st.Dropped
	if dropped == 0 || len(st.Outbox) > maxOutbox {
		t.Fatalf("after the flood the outbox holds %d events with %d dropped; want it capped and the drop counted", len(st.Outbox), dropped)
	}
	if sw.calls.Load() == 0 {
		t.Fatal("no chat call was refused: the outage was not seen")
	}

	sw.down.Store(false)
	drained()
	parents := f.parents()
	per := map[string]int{}
	for _, p := range parents {
		rev, _ := p.Metadata.EventPayload["revision"].(string)
		per[rev]++
	}
	for _, sha := range shas {
		if per[sha] != 1 {
			t.Errorf("revision %s has %d Slack messages, want 1", short(sha), per[sha])
		}
	}
	if len(parents) != 3 {
		t.Errorf("%d revision messages, want 3", len(parents))
	}
	told := regexp.MustCompile(`(\d+) chat events were dropped while chat was unreachable`)
	var counts []int
	for _, p := range parents {
		for _, r := range f.slack.Replies(p.Channel, p.TS) {
			if m := told.FindStringSubmatch(slackserver.BlockText(r)); m != nil {
				n, _ := strconv.Atoi(m[1])
				counts = append(counts, n)
			}
		}
	}
	if len(counts) != 1 || counts[0] != dropped {
		t.Errorf("drop told %v, want once with %d", counts, dropped)
	}
	if st, _, _ := s.load(ctx, "app"); st.Dropped != 0 {
		t.Errorf("%d drops still to tell after delivery", st.Dropped)
	}
}
