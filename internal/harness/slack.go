package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// Slack metadata and action IDs ferry's chat package uses, read here from
// what it posted rather than imported, as a Slack client would see them.
const (
	metadataParent = "ferry_revision"
	actionApprove  = "ferry_approve"
	actionReject   = "ferry_reject"
)

// Parents returns the channel's revision messages (the parent of each
// revision's thread) grouped by full SHA, in post order. More than one
// message under a SHA is a duplicate.
func (w *World) Parents() map[string][]slackserver.Message {
	out := map[string][]slackserver.Message{}
	for _, m := range w.Slack.Messages(w.Channel) {
		if sha := parentRevision(m); sha != "" {
			out[sha] = append(out[sha], m)
		}
	}
	return out
}

// Parent returns the one revision message of sha; an error when there is
// none or more than one.
func (w *World) Parent(sha string) (slackserver.Message, error) {
	ms := w.Parents()[sha]
	if len(ms) != 1 {
		return slackserver.Message{}, fmt.Errorf("harness: %d chat messages for revision %s, want 1", len(ms), short(sha))
	}
	return ms[0], nil
}

// Thread returns the visible text of every reply in sha's thread, in order.
func (w *World) Thread(sha string) ([]string, error) {
	p, err := w.Parent(sha)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range w.Slack.Replies(w.Channel, p.TS) {
		out = append(out, slackserver.BlockText(r))
	}
	return out, nil
}

func parentRevision(m slackserver.Message) string {
	if m.Metadata == nil || m.Metadata.EventType != metadataParent {
		return ""
	}
	sha, _ := m.Metadata.EventPayload["revision"].(string)
	return sha
}

// PrintTranscript writes the channel as a person reads it: each revision's
// message with its update count and its thread.
func (w *World) PrintTranscript(out io.Writer) error {
	return w.Slack.Print(out, w.Channel)
}

// buttonValue is what ferry's Approve and Reject buttons carry.
type buttonValue struct {
	Pipeline    string `json:"pipeline"`
	Environment string `json:"environment"`
	Revision    string `json:"revision"`
}

// Click presses Approve (approve true) or Reject on sha's message for env as
// the Slack user slackUser: it waits for the button ferry posts, sends Slack's
// block_actions interaction to /slack/interactions signed with the signing
// secret, and returns what ferry answered through the response_url.
func (w *World) Click(ctx context.Context, env, sha, slackUser string, approve bool) (slackserver.ResponsePost, error) {
	action := actionReject
	if approve {
		action = actionApprove
	}
	parent, value, err := w.button(ctx, env, sha, action)
	if err != nil {
		return slackserver.ResponsePost{}, err
	}
	respURL := w.Slack.ResponseURL()
	payload, err := slackserver.BlockActionsPayload(slackserver.Click{
		UserID: slackUser, UserName: slackUser, ActionID: action, Value: value,
		Channel: w.Channel, MessageTS: parent.TS, ResponseURL: respURL,
	})
	if err != nil {
		return slackserver.ResponsePost{}, fmt.Errorf("harness: interaction payload: %w", err)
	}
	resp, err := slackserver.SendInteraction(ctx, w.http, w.APIURL+"/slack/interactions", w.secrets.signing, time.Now(), payload)
	if err != nil {
		return slackserver.ResponsePost{}, fmt.Errorf("harness: send the click: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return slackserver.ResponsePost{}, fmt.Errorf("harness: /slack/interactions answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	for {
		for _, r := range w.Slack.Responses() {
			if r.URL == respURL {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return slackserver.ResponsePost{}, fmt.Errorf("harness: no answer to the click at its response_url: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// button waits until sha's message carries the button for action in env, as
// a person waits to see it, and returns the message and the button's value.
func (w *World) button(ctx context.Context, env, sha, action string) (slackserver.Message, string, error) {
	for {
		parent, err := w.Parent(sha)
		if err == nil {
			var value string
			if value, err = findButton(parent, action, env); err == nil {
				return parent, value, nil
			}
			err = fmt.Errorf("%w in the message of %s:\n%s", err, short(sha), slackserver.BlockText(parent))
		}
		select {
		case <-ctx.Done():
			return slackserver.Message{}, "", fmt.Errorf("harness: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// findButton returns the value of the button with action whose value names env.
func findButton(m slackserver.Message, action, env string) (string, error) {
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		return "", fmt.Errorf("read the message's blocks: %w", err)
	}
	for _, b := range blocks {
		for _, e := range b.Elements {
			var v buttonValue
			if e.ActionID == action && json.Unmarshal([]byte(e.Value), &v) == nil && v.Environment == env {
				return e.Value, nil
			}
		}
	}
	return "", fmt.Errorf("no %s button for %s", action, env)
}

// WatchChat prints, every interval, what changed in the channel since the
// last look: new revision messages, their edits (the status line of each
// environment) and the first line of each new thread reply. stop ends it and prints what is left.
func (w *World) WatchChat(out io.Writer, interval time.Duration) (stop func()) {
	cw := &chatWatcher{w: w, out: out, updates: map[string]int{}, replies: map[string]bool{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				cw.look()
				return
			case <-t.C:
				cw.look()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

type chatWatcher struct {
	w   *World
	out io.Writer
	// updates is the update count printed per parent ts; replies the reply
	// ts values printed.
	updates map[string]int
	replies map[string]bool
}

func (cw *chatWatcher) look() {
	for _, m := range cw.w.Slack.Messages(cw.w.Channel) {
		rev := short(parentRevision(m))
		seen, known := cw.updates[m.TS]
		switch {
		case !known:
			fmt.Fprintf(cw.out, "    💬 post   %s\n", oneLine(m.Text))
		case seen != m.Updates:
			fmt.Fprintf(cw.out, "    💬 edit   %s\n", oneLine(m.Text))
		}
		cw.updates[m.TS] = m.Updates
		for _, r := range cw.w.Slack.Replies(cw.w.Channel, m.TS) {
			if cw.replies[r.TS] {
				continue
			}
			cw.replies[r.TS] = true
			fmt.Fprintf(cw.out, "    💬   ↳ %s %s\n", rev, firstLine(slackserver.BlockText(r)))
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// firstLine is a reply's first line, saying how many more there are: the
// whole thread is printed at the end of the demo.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s (+%d lines)", lines[0], len(lines)-1)
}

func short(sha string) string { return ferry.Revision{SHA: sha}.Short() }
