package reliability

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// outage is how long a dependency stays away: the test-scale stand-in for
// the 60 s, many times the poll interval and the chat retry cap.
const outage = 10 * time.Second

// warnings returns ferry's WARN and ERROR lines since from that match re.
func warnings(from int64, re *regexp.Regexp) []string {
	var out []string
	for _, l := range strings.Split(logSince(from, 0), "\n") {
		if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) && re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// stillRunning fails t when ferry has exited.
func stillRunning(t *testing.T) {
	t.Helper()
	if exited, err := w.Ferry().Exited(); exited {
		t.Fatalf("ferry exited during the outage: %v", err)
	}
}

// TestSlackOutage takes the Slack server away while a revision is
// promoted, then brings it back answering 500s, then 429s with and without
// Retry-After. ferry goes on promoting, reports the problems once each
// rather than once per retry, and once Slack works delivers every event it
// recorded meanwhile exactly once: the revision's one message, its status,
// and a thread as complete as that of a revision promoted without outage.
func TestSlackOutage(t *testing.T) {
	needWorld(t)
	ctx := t.Context()
	settle(ctx, t)
	from := logSize()
	logOnFailure(t, from)

	control := push(ctx, t, "before the Slack outage")
	nudge(ctx)
	promoted(ctx, t, control)
	waitOutboxEmpty(ctx, t)
	want := threadIDs(t, control)

	slackProxy.Down()
	down := true
	defer func() {
		if down {
			_ = slackProxy.Up()
		}
	}()
	sha := push(ctx, t, "during the Slack outage")
	nudge(ctx)
	promoted(ctx, t, sha)
	time.Sleep(outage)
	stillRunning(t)
	if n := len(w.Parents()[sha]); n != 0 {
		t.Fatalf("%d messages for %.7s while Slack was unreachable", n, sha)
	}

	faults := []slackserver.Fault{{Status: 500}, {Status: 500}, {Status: 500},
		{Status: 429, RetryAfter: "1"}, {Status: 429, RetryAfter: "1"}, {Status: 429}, {Status: 429}}
	w.Slack.Inject("chat.postMessage", faults...)
	if err := slackProxy.Up(); err != nil {
		t.Fatal(err)
	}
	down = false
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	waitOutboxEmpty(wctx, t)
	stillRunning(t)

	// Every fault was met, so each problem was really seen.
	var outcomes []string
	for _, c := range w.Slack.Calls("chat.postMessage") {
		if strings.HasPrefix(c.Outcome, "HTTP") {
			outcomes = append(outcomes, c.Outcome)
		}
	}
	if len(outcomes) != len(faults) {
		t.Errorf("chat.postMessage met %d faults, want %d: %q", len(outcomes), len(faults), outcomes)
	}

	checkChat(t, control, sha)
	got := threadIDs(t, sha)
	if len(got) != len(want) {
		t.Errorf("the thread of %.7s has %d replies after the outage, want %d as without one", sha, len(got), len(want))
	}
	parent, err := w.Parent(sha)
	if err != nil {
		t.Fatal(err)
	}
	if text := slackserver.BlockText(parent); !strings.Contains(text, "✅") {
		t.Errorf("the message of %.7s does not show dev succeeded:\n%s", sha, text)
	}

	// Unreachable, server error, rate limited: at most one report each.
	lines := warnings(from, regexp.MustCompile(`(?i)chat|slack`))
	t.Logf("ferry reported the chat outage in %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	if len(lines) == 0 {
		t.Error("ferry did not report the chat outage")
	}
	if len(lines) > 3 {
		t.Errorf("ferry reported the chat outage in %d lines, want at most one per problem (3)", len(lines))
	}
	if !strings.Contains(logSince(from, 0), `msg="chat delivery works again"`) {
		t.Error("ferry did not report that chat works again")
	}
}

// TestGitOutage takes the Git server away for longer than several polls;
// a revision pushed meanwhile is promoted once the server is back, with no
// webhook and no restart, and the outage is reported once.
func TestGitOutage(t *testing.T) {
	needWorld(t)
	ctx := t.Context()
	settle(ctx, t)
	from := logSize()
	logOnFailure(t, from)

	gitProxy.Down()
	down := true
	defer func() {
		if down {
			_ = gitProxy.Up()
		}
	}()
	sha := push(ctx, t, "during the Git outage")
	time.Sleep(outage)
	stillRunning(t)
	if err := gitProxy.Up(); err != nil {
		t.Fatal(err)
	}
	down = false
	promoted(ctx, t, sha)
	stillRunning(t)
	checkHistory(ctx, t, sha)

	lines := warnings(from, regexp.MustCompile(`(?i)git|branch head|fetch`))
	t.Logf("ferry reported the Git outage in %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	if len(lines) != 1 {
		t.Errorf("ferry reported the Git outage in %d lines over %s of polls every %s, want 1", len(lines), outage, poll)
	}
	if !strings.Contains(logSince(from, 0), `msg="reading the branch head works again"`) {
		t.Error("ferry did not report that Git works again")
	}
}

// TestPushWhileApplying pushes a second revision while dev is applying
// the first: the second waits for the first, dev ends at the newest, and
// Helm's "another operation is in progress" reaches no one.
func TestPushWhileApplying(t *testing.T) {
	needWorld(t)
	ctx := t.Context()
	settle(ctx, t)
	from := logSize()
	logOnFailure(t, from)
	before := lastVersion(ctx, t)

	first := push(ctx, t, "first of two")
	nudge(ctx)
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	if _, err := w.WaitFor(wctx, env, first, ferry.PhaseApplying); err != nil {
		t.Fatal(err)
	}
	second := push(ctx, t, "second of two, while the first applies")
	nudge(ctx)
	promoted(ctx, t, second)
	waitOutboxEmpty(wctx, t)

	dep, err := w.Deployed(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if dep.SHA != second {
		t.Errorf("dev runs %.7s, want the newest %.7s", dep.SHA, second)
	}
	// The first was applied to its end, then the second: no failed or
	// pending revision, and nothing applied twice.
	got := helmSince(ctx, t, before)
	for _, h := range got {
		if h.Status == "failed" || strings.HasPrefix(h.Status, "pending") {
			t.Errorf("Helm revision %d is %s", h.Version, h.Status)
		}
	}
	if len(got) == 0 || len(got) > 2 || got[len(got)-1].SHA != second || (len(got) == 2 && got[0].SHA != first) {
		t.Errorf("Helm revisions after %d: %s\nwant at most one of %.7s, then one of %.7s", before, describeHelm(got), first, second)
	}
	proms, err := w.History(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := promotionOf(proms, first); !ok || (p.Phase != ferry.PhaseSucceeded && p.Phase != ferry.PhaseSuperseded) {
		t.Errorf("the first revision's promotion is %+v, want Succeeded or Superseded", p.Phase)
	}
	checkHistory(ctx, t, second)
	checkChat(t, first, second)

	const busy = "another operation"
	var seen []string
	if strings.Contains(logSince(from, 0), busy) {
		seen = append(seen, "ferry's log")
	}
	for _, p := range proms {
		if strings.Contains(p.Reason, busy) || strings.Contains(harnessGates(p), busy) {
			seen = append(seen, "promotion "+p.ID)
		}
	}
	for _, m := range w.Slack.Messages(w.Channel) {
		if strings.Contains(slackserver.BlockText(m), busy) {
			seen = append(seen, "chat message "+m.TS)
		}
		for _, r := range w.Slack.Replies(w.Channel, m.TS) {
			if strings.Contains(slackserver.BlockText(r), busy) {
				seen = append(seen, "chat reply "+r.TS)
			}
		}
	}
	if len(seen) > 0 {
		t.Errorf("%q reached %s", busy, strings.Join(seen, ", "))
	}
}

// promoted waits until sha has Succeeded in dev.
func promoted(ctx context.Context, t *testing.T, sha string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	if _, err := w.WaitFor(wctx, env, sha, ferry.PhaseSucceeded); err != nil {
		t.Fatal(err)
	}
}

// threadIDs returns the reply ids of sha's thread.
func threadIDs(t *testing.T, sha string) []string {
	t.Helper()
	p, err := w.Parent(sha)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range w.Slack.Replies(w.Channel, p.TS) {
		ids = append(ids, replyID(r))
	}
	return ids
}

func promotionOf(proms []ferry.Promotion, sha string) (ferry.Promotion, bool) {
	for _, p := range proms {
		if p.Revision.SHA == sha {
			return p, true
		}
	}
	return ferry.Promotion{}, false
}

// harnessGates is every gate's reason of p.
func harnessGates(p ferry.Promotion) string {
	var b strings.Builder
	for _, g := range p.Gates {
		b.WriteString(g.Reason + "\n")
	}
	return b.String()
}

// apiOutage is how long the API server stays away from ferry once ferry
// has stepped down (which takes the lease's renew deadline, 3.5 s): many
// retry periods of the elector standing by, which must win the Lease back
// by itself afterwards.
const apiOutage = 15 * time.Second

// TestAPIServerOutage takes the API server away from ferry (the state,
// the Lease, the Helm releases) while a revision is pushed. ferry keeps
// running, steps down when it cannot renew the Lease, reports the outage
// once per kind of problem rather than once per retry, and when the API
// server returns takes the leadership back by itself and promotes the
// revision once: one new Helm revision, none pending, one chat message.
func TestAPIServerOutage(t *testing.T) {
	needWorld(t)
	ctx := t.Context()
	settle(ctx, t)
	from := logSize()
	logOnFailure(t, from)
	before := lastVersion(ctx, t)
	pid := w.Ferry().PID()

	apiProxy.Down()
	down := true
	defer func() {
		if down {
			_ = apiProxy.Up()
		}
	}()
	sha := push(ctx, t, "during the API server outage")
	// The Git server is up: ferry sees the revision but cannot record it.
	// It must notice it cannot renew the Lease and stop acting.
	lost := waitMetric(ctx, t, "ferry_leader", 0, exitTimeout)
	if !lost {
		t.Errorf("ferry still says it leads after %s without the API server", exitTimeout)
	}
	time.Sleep(apiOutage)
	stillRunning(t)
	if err := apiProxy.Up(); err != nil {
		t.Fatal(err)
	}
	down = false

	promoted(ctx, t, sha)
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	waitOutboxEmpty(wctx, t)
	stillRunning(t)
	if got := w.Ferry().PID(); got != pid {
		t.Errorf("ferry runs as pid %d after the outage, want the same process %d", got, pid)
	}

	checkHistory(ctx, t, sha)
	noPending(ctx, t)
	if got := helmSince(ctx, t, before); len(got) != 1 || got[0].SHA != sha || got[0].Status != "deployed" {
		t.Errorf("Helm revisions of dev after %d:%s\nwant one, of %.7s, deployed", before, describeHelm(got), sha)
	}
	checkChat(t, sha)

	log := logSince(from, 0)
	stopped := strings.Index(log, `msg="stopped leading"`)
	if stopped < 0 {
		t.Error("ferry did not report that it stopped leading")
	} else if !strings.Contains(log[stopped:], `msg=leading`) {
		t.Error("ferry did not report that it leads again")
	}

	// Every retry failed while the API server was away (the elector's every
	// retryPeriod, the state watch every second, the poll every 2s…); each
	// message is reported once per kind of failure. A message may show two
	// kinds (connections cut, then refused), never one line per retry.
	lines := warnings(from, regexp.MustCompile(`.`))
	t.Logf("ferry reported the API server outage in %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	if len(lines) == 0 {
		t.Error("ferry did not report the API server outage")
	}
	perMsg := map[string]int{}
	for _, l := range lines {
		perMsg[logMsg(l)]++
	}
	for msg, n := range perMsg {
		if n > 2 {
			t.Errorf("ferry reported %q %d times during a %s outage, want once per kind of failure", msg, n, apiOutage)
		}
	}
	// client-go's leader election logs through ferry's logger: nothing of
	// it reaches klog's own output.
	if kl := klog(from); len(kl) > 0 {
		t.Errorf("client-go printed %d klog lines past ferry's logger:\n%s", len(kl), strings.Join(kl, "\n"))
	}
}

// logMsg is the msg of a slog text line.
func logMsg(line string) string {
	_, m, ok := strings.Cut(line, " msg=")
	if !ok {
		return line
	}
	if strings.HasPrefix(m, `"`) {
		if end := strings.Index(m[1:], `"`); end >= 0 {
			return m[1 : end+1]
		}
	}
	m, _, _ = strings.Cut(m, " ")
	return m
}

// klogLine is a line printed by klog (client-go's logger) itself.
var klogLine = regexp.MustCompile(`^[IWEF]\d{4} `)

// klog returns the lines printed by klog since from.
func klog(from int64) []string {
	var out []string
	for _, l := range strings.Split(logSince(from, 0), "\n") {
		if klogLine.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitMetric waits up to timeout until ferry's metric series equals v.
func waitMetric(ctx context.Context, t *testing.T, series string, v float64, timeout time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if m, err := scrape(ctx); err == nil {
			if got, ok := m[series]; ok && got == v {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}
