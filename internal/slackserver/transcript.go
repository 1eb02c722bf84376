package slackserver

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Transcript returns every Web API call received so far, in order.
func (s *Server) Transcript() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Calls returns the calls of one method, in order.
func (s *Server) Calls(method string) []Call {
	var out []Call
	for _, c := range s.Transcript() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of a channel's top-level messages in post order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == "" && m.User == "" {
			out = append(out, *m)
		}
	}
	return out
}

// Replies returns copies of the thread replies under parent ts, in order.
func (s *Server) Replies(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == ts {
			out = append(out, *m)
		}
	}
	return out
}

// Ephemerals returns copies of the ephemeral messages posted in channel.
func (s *Server) Ephemerals(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.User != "" {
			out = append(out, *m)
		}
	}
	return out
}

// Responses returns what was posted to response_urls, in order.
func (s *Server) Responses() []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResponsePost(nil), s.responses...)
}

// Print writes a channel as a person would read it: each message's text
// blocks, its update count, then its thread indented.
func (s *Server) Print(w io.Writer, channel string) error {
	for _, m := range s.Messages(channel) {
		edited := ""
		if m.Updates > 0 {
			edited = fmt.Sprintf(" (updated %d×)", m.Updates)
		}
		if _, err := fmt.Fprintf(w, "[%s]%s\n%s\n", m.TS, edited, indent(BlockText(m), "  ")); err != nil {
			return err
		}
		for _, r := range s.Replies(channel, m.TS) {
			if _, err := fmt.Fprintf(w, "    ↳ [%s]\n%s\n", r.TS, indent(BlockText(r), "      ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// BlockText extracts the visible text of a message's blocks, one block per
// line (buttons as [Label]); the fallback text when it has no blocks.
func BlockText(m Message) string {
	if m.Blocks == nil {
		return m.Text
	}
	var blocks []struct {
		Type     string   `json:"type"`
		Text     *textObj `json:"text"`
		Elements []struct {
			Type string          `json:"type"`
			Text json.RawMessage `json:"text"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		return m.Text
	}
	var lines []string
	for _, b := range blocks {
		switch {
		case b.Text != nil:
			lines = append(lines, b.Text.Text)
		case len(b.Elements) > 0:
			var parts []string
			for _, e := range b.Elements {
				var t textObj
				if json.Unmarshal(e.Text, &t) == nil && t.Text != "" {
					parts = append(parts, "["+t.Text+"]")
					continue
				}
				var plain string
				if json.Unmarshal(e.Text, &plain) == nil {
					parts = append(parts, plain)
				}
			}
			lines = append(lines, strings.Join(parts, " "))
		}
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
