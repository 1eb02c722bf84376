package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/slack-go/slack"
)

// reply is one thread reply under a revision's parent message.
type reply struct {
	// id identifies the reply across retries and replays of its event.
	id     string
	blocks []slack.Block
	text   string
}

// threadReply renders the details an event adds to the thread: resource
// changes and quota use with the diff, gate results with figures, errors and
// warnings with file:line, failures and rollbacks. ok is false when the event
// has nothing for the thread (it only moves the parent's status lines).
func threadReply(ev ferry.Event) (reply, bool) {
	where := "*" + escape(orDefault(ev.Environment, ev.Pipeline)) + "*"
	var blocks []slack.Block
	var head string
	switch ev.Kind {
	case ferry.EventPhaseChanged:
		p := ev.Promotion
		switch {
		case p == nil:
		case p.Phase == ferry.PhaseFailed:
			head = "❌ " + where + " failed"
			if p.Reason != "" {
				head += ": " + escape(p.Reason)
			}
		case p.Phase == ferry.PhaseRolledBack:
			head = "↩️ " + escape(rollbackText(orDefault(ev.Environment, ev.Pipeline), p))
		}
		if head != "" {
			blocks = append(blocks, section(head))
		}
	case ferry.EventGateResult:
		for _, g := range ev.Gates {
			if g.Verdict == ferry.VerdictPending {
				continue
			}
			line := verdictIcon(g.Verdict) + " " + where + " " + escape(gateText(g))
			if head == "" {
				head = line
			}
			blocks = append(blocks, section(line))
			if f := figuresText(g.Figures); f != "" {
				blocks = append(blocks, contextLine(escape(f)))
			}
		}
	case ferry.EventDiff:
		head = "📝 " + where + " changes for `" + ev.Revision.Short() + "`"
		text := head
		if lines := summaryLines(ev.Summary, ev.Previous); len(lines) > 0 {
			text += "\n" + escape(strings.Join(lines, "\n"))
		}
		blocks = append(blocks, section(text))
		if ev.Diff != "" {
			blocks = append(blocks, section(codeBlock(escape(ev.Diff))))
		}
	case ferry.EventDrift:
		head = "⚠️ " + where + " drifted from its release"
		blocks = append(blocks, section(head))
		for _, s := range []string{ev.Message, ev.Diff} {
			if s != "" {
				blocks = append(blocks, section(codeBlock(escape(s))))
			}
		}
	case ferry.EventError:
		head = "❌ " + where + " error"
		blocks = append(blocks, section(head))
		if ev.Message != "" {
			blocks = append(blocks, section(codeBlock(escape(ev.Message))))
		}
	}
	if len(ev.Warnings) > 0 {
		ws := make([]string, len(ev.Warnings))
		for i, w := range ev.Warnings {
			ws[i] = w.String()
		}
		if head == "" {
			head = "⚠️ " + where + " warnings"
		}
		blocks = append(blocks, section("⚠️ warnings\n"+codeBlock(escape(strings.Join(ws, "\n")))))
	}
	if len(blocks) == 0 {
		return reply{}, false
	}
	return reply{id: replyID(ev), blocks: capBlocks(blocks), text: fallback(head)}, true
}

// replyID derives a reply's id from its event, so a replayed event finds its
// reply already delivered.
func replyID(ev ferry.Event) string {
	b, _ := json.Marshal(ev)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
