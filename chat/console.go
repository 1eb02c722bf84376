package chat

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
)

// consoleDiffLines is how much of a diff the console prints.
const consoleDiffLines = 40

// Console prints events as human-readable lines, for local runs and the
// demo. It is safe for concurrent use.
type Console struct {
	mu  sync.Mutex
	w   io.Writer
	loc *time.Location
}

// NewConsole returns a notifier writing to w (ferry passes stderr); times are
// shown in loc, UTC when nil.
func NewConsole(w io.Writer, loc *time.Location) *Console {
	if loc == nil {
		loc = time.UTC
	}
	return &Console{w: w, loc: loc}
}

// Notify writes the event's lines.
func (c *Console) Notify(_ context.Context, ev ferry.Event) error {
	text := c.render(ev)
	if text == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, text); err != nil {
		return fmt.Errorf("console notify %s: %w", ev.Kind, err)
	}
	return nil
}

// render gives the lines for one event, each prefixed "pipeline sha env".
func (c *Console) render(ev ferry.Event) string {
	prefix := ev.Pipeline + " " + ev.Revision.Short()
	if ev.Environment != "" {
		prefix += " " + ev.Environment
	}
	var lines []string
	switch ev.Kind {
	case ferry.EventRevisionDetected:
		s := prefix + " new revision"
		if ev.Revision.Subject != "" {
			s += ": " + ev.Revision.Subject
		}
		if ev.Revision.Author != "" {
			s += " (" + ev.Revision.Author + ")"
		}
		lines = append(lines, s)
	case ferry.EventPhaseChanged:
		if ev.Promotion != nil {
			lines = append(lines, prefix+" "+statusText(ev.Promotion))
		}
	case ferry.EventGateResult:
		for _, g := range ev.Gates {
			s := prefix + " " + verdictIcon(g.Verdict) + " " + gateText(g)
			if f := figuresText(g.Figures); f != "" {
				s += " [" + f + "]"
			}
			lines = append(lines, s)
		}
	case ferry.EventApproval:
		if ev.Approval != nil {
			lines = append(lines, prefix+" "+decisionText(*ev.Approval, c.loc))
		}
	case ferry.EventDiff:
		lines = append(lines, prefix+" changes:")
		for _, l := range summaryLines(ev.Summary, ev.Previous) {
			lines = append(lines, "  "+l)
		}
		if ev.Diff != "" {
			lines = append(lines, indentLines(cutLineCount(strings.TrimRight(ev.Diff, "\n"), consoleDiffLines)))
		}
	case ferry.EventDrift:
		lines = append(lines, prefix+" drifted from its release")
		if ev.Message != "" {
			lines = append(lines, indentLines(ev.Message))
		}
	case ferry.EventError:
		lines = append(lines, prefix+" error: "+ev.Message)
	}
	for _, w := range ev.Warnings {
		lines = append(lines, prefix+" warning: "+w.String())
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
