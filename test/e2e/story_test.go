package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/harness"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
)

// poll is the branch poll interval of the run: long enough that every
// revision after the first can only have been picked up through a webhook.
const poll = 5 * time.Minute

// revWebhook names the commit of the webhook check, pushed after the
// approval step while every environment runs the first revision.
const revWebhook = "webhook-runbook"

// TestStory tells the demo's story against the ferry binary and then checks
// the whole run: Helm records, history, live objects and chat.
func TestStory(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane, a Git server, a Slack server and the ferry binary")
	}
	ctx := t.Context()
	// Everything the harness and the story print is also kept, to be
	// searched for secrets at the end.
	printed := &syncbuf.Buffer{}
	out := io.MultiWriter(logWriter{t}, printed)
	w, err := harness.Start(ctx, harness.Options{Poll: poll, Configure: harness.Configure, Progress: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && w.Ferry() != nil {
			t.Logf("last lines of the ferry log:\n%s", w.Ferry().LogTail(60))
		}
		w.Close()
	})

	story := harness.NewStory(w, out)
	for i, step := range story.Steps() {
		ok := t.Run(fmt.Sprintf("%02d-%s", i+1, step.Name), func(t *testing.T) {
			t.Log(step.Title)
			if err := step.Run(ctx); err != nil {
				t.Fatal(err)
			}
		})
		if !ok {
			t.Fatalf("the story stopped at step %d (%s)", i+1, step.Name)
		}
		if step.Name == "approve" {
			if !t.Run("webhook-before-poll", func(t *testing.T) { webhookBeforePoll(ctx, t, w, story) }) {
				t.FailNow()
			}
		}
	}

	t.Run("helm-records", func(t *testing.T) { checkHelm(ctx, t, w, story) })
	t.Run("history", func(t *testing.T) { checkHistory(ctx, t, w, story) })
	t.Run("live-objects", func(t *testing.T) { checkLive(ctx, t, w) })
	t.Run("chat", func(t *testing.T) { checkChat(ctx, t, w, story) })
	t.Run("no-secrets", func(t *testing.T) { checkNoSecrets(ctx, t, w, printed.String()) })
}

// webhookBeforePoll pushes a commit that changes no render (a runbook beside
// the chart), shows that nothing happens without a webhook, then sends the
// signed webhook and waits for the commit to pass every environment, far
// sooner than the 5-minute poll could have found it.
func webhookBeforePoll(ctx context.Context, t *testing.T, w *harness.World, s *harness.Story) {
	sha, err := w.Push(ctx, "docs: where the platform's runbooks live",
		harness.WriteFile("docs/RUNBOOK.md", "# Runbooks\n\nOn-call notes for vibecode-platform live in the wiki.\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Revs[revWebhook] = sha

	// Without a webhook ferry has no reason to look before its next poll.
	const quiet = 5 * time.Second
	time.Sleep(quiet)
	proms, err := w.API.History(ctx, w.Pipeline, "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := harness.PromotionOf(proms, sha); ok {
		t.Fatalf("dev has a promotion of %s (%s) %s after a push with no webhook; the poll is %s", sha[:7], p.Phase, quiet, poll)
	}

	code, body, err := w.Webhook(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusAccepted {
		t.Fatalf("webhook answered %d %s, want 202", code, body)
	}
	sent := time.Now()
	// A minute is a fifth of the poll interval: only the webhook explains
	// a pick-up within it.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, env := range []string{"dev", "staging", "prod"} {
		p, err := w.WaitFor(wctx, env, sha, ferry.PhaseSucceeded)
		if err != nil {
			t.Fatal(err)
		}
		if p.HelmRevision != 0 {
			t.Errorf("%s applied %s as Helm revision %d; a runbook changes no render", env, sha[:7], p.HelmRevision)
		}
	}
	t.Logf("%s passed dev, staging and prod %s after the webhook (poll %s)", sha[:7], time.Since(sent).Round(100*time.Millisecond), poll)
}

// logWriter sends each line written to it to the test log.
type logWriter struct{ t *testing.T }

func (l logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Log(line)
	}
	return len(p), nil
}

// eventually retries check every 200ms until it returns nil or timeout
// passes, and returns its last error.
func eventually(ctx context.Context, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// figure returns the value of a gate's figure, "" when absent.
func figure(p ferry.Promotion, gate, name string) string {
	g, ok := harness.Gate(p, gate)
	if !ok {
		return ""
	}
	for _, f := range g.Figures {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// names lists the story's names of shas, sorted, for messages.
func names(s *harness.Story, shas []string) []string {
	out := make([]string, len(shas))
	for i, sha := range shas {
		out[i] = revName(s, sha)
	}
	slices.Sort(out)
	return out
}
