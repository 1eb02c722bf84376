package chat

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits that ferry's messages can reach.
const (
	maxSectionChars = 3000
	maxBlocks       = 50
	// maxFallbackChars keeps the notification text short; Slack truncates
	// beyond 40,000 characters and nobody reads that much in a notification.
	maxFallbackChars = 300
)

// escape makes user text literal in Slack mrkdwn: &, < and > are the
// characters Slack requires as entities.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// moreLines is the marker that replaces what was cut.
func moreLines(n int) string { return fmt.Sprintf("… %d more lines", n) }

// cutLines keeps whole lines of s while they fit in max characters, and
// replaces the rest with "… N more lines". A first line longer than the
// budget is itself cut and counted. Lines must be escaped already: cutting
// happens at line ends, so no entity is split except inside an over-long
// line, where a partial entity is dropped.
func cutLines(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	lines := strings.Split(s, "\n")
	// Reserve room for the marker with the largest count it can show.
	budget := max - utf8.RuneCountInString(moreLines(len(lines))) - 1
	var kept []string
	used := 0
	for _, l := range lines {
		n := utf8.RuneCountInString(l) + 1
		if used+n > budget {
			break
		}
		kept = append(kept, l)
		used += n
	}
	if len(kept) == 0 {
		kept = []string{cutRunes(lines[0], budget-1) + "…"}
	}
	return strings.Join(kept, "\n") + "\n" + moreLines(len(lines)-len(kept))
}

// cutRunes shortens s to at most n runes without splitting an HTML entity.
func cutRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	out := string(r[:n])
	if amp := strings.LastIndexByte(out, '&'); amp >= 0 && !strings.Contains(out[amp:], ";") {
		out = out[:amp]
	}
	return out
}

// cutLineCount keeps the first n lines of s and counts the rest.
func cutLineCount(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + "\n" + moreLines(len(lines)-n)
}

// codeBlock wraps escaped text in a mrkdwn code block that fits one section.
func codeBlock(s string) string {
	const fence = "```"
	s = strings.TrimRight(s, "\n")
	return fence + "\n" + cutLines(s, maxSectionChars-2*len(fence)-2) + "\n" + fence
}

// section is a mrkdwn section, its text cut to Slack's limit.
func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cutLines(text, maxSectionChars), false, false), nil, nil)
}

// contextLine is a context block with one mrkdwn element.
func contextLine(text string) *slack.ContextBlock {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, cutLines(text, maxSectionChars), false, false))
}

// capBlocks keeps a message within Slack's block count, ending it with a
// note of how many blocks were left out.
func capBlocks(blocks []slack.Block) []slack.Block {
	if len(blocks) <= maxBlocks {
		return blocks
	}
	kept := append([]slack.Block(nil), blocks[:maxBlocks-1]...)
	return append(kept, contextLine(fmt.Sprintf("… %d more blocks", len(blocks)-len(kept))))
}

// fallback is the notification text for a message, cut short on one line.
func fallback(s string) string {
	return ellipsize(s, maxFallbackChars)
}

// ellipsize puts s on one line and cuts it to n runes, ending in "…" when
// it was longer.
func ellipsize(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return cutRunes(s, n-1) + "…"
}
