package slackserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/slack-go/slack"
)

func (s *Server) authTest(map[string]string) (map[string]any, string) {
	return map[string]any{
		"url": "https://ferry-test.slack.com/", "team": "ferry-test", "user": "ferry",
		"team_id": "T0FERRY01", "user_id": "U0FERRYBOT", "bot_id": "B0FERRY01",
	}, ""
}

func (s *Server) postMessage(form map[string]string) (map[string]any, string) {
	m, slackErr := s.messageFromForm(form)
	if slackErr != "" {
		return nil, slackErr
	}
	if m.ThreadTS != "" {
		parent := s.find(m.Channel, m.ThreadTS)
		if parent == nil || parent.ThreadTS != "" || parent.User != "" {
			return nil, "thread_not_found"
		}
	}
	m.TS = s.newTS()
	s.messages = append(s.messages, m)
	return map[string]any{"channel": m.Channel, "ts": m.TS, "message": m.wire(true)}, ""
}

func (s *Server) postEphemeral(form map[string]string) (map[string]any, string) {
	m, slackErr := s.messageFromForm(form)
	if slackErr != "" {
		return nil, slackErr
	}
	if form["user"] == "" {
		return nil, "user_not_found"
	}
	m.User = form["user"]
	m.TS = s.newTS()
	s.messages = append(s.messages, m)
	return map[string]any{"message_ts": m.TS}, ""
}

func (s *Server) update(form map[string]string) (map[string]any, string) {
	next, slackErr := s.messageFromForm(form)
	if slackErr != "" {
		return nil, slackErr
	}
	m := s.find(next.Channel, form["ts"])
	if m == nil || m.User != "" {
		return nil, "message_not_found"
	}
	m.Text, m.Blocks = next.Text, next.Blocks
	if next.Metadata != nil {
		m.Metadata = next.Metadata
	}
	m.Updates++
	return map[string]any{"channel": m.Channel, "ts": m.TS, "text": m.Text, "message": m.wire(true)}, ""
}

// history lists a channel's messages (thread replies and ephemerals left
// out), newest first, up to limit (default 100). It has no cursor paging.
func (s *Server) history(form map[string]string) (map[string]any, string) {
	if !s.channels[form["channel"]] {
		return nil, "channel_not_found"
	}
	limit := 100
	if n, err := strconv.Atoi(form["limit"]); err == nil && n > 0 {
		limit = n
	}
	meta := form["include_all_metadata"] == "1" || form["include_all_metadata"] == "true"
	var out []map[string]any
	hasMore := false
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Channel != form["channel"] || m.ThreadTS != "" || m.User != "" {
			continue
		}
		if len(out) == limit {
			hasMore = true
			break
		}
		out = append(out, m.wire(meta))
	}
	return map[string]any{"messages": out, "has_more": hasMore}, ""
}

// replies lists a thread: the parent first, then its replies in order.
func (s *Server) replies(form map[string]string) (map[string]any, string) {
	if !s.channels[form["channel"]] {
		return nil, "channel_not_found"
	}
	parent := s.find(form["channel"], form["ts"])
	if parent == nil || parent.User != "" {
		return nil, "thread_not_found"
	}
	meta := form["include_all_metadata"] == "1" || form["include_all_metadata"] == "true"
	out := []map[string]any{parent.wire(meta)}
	for _, m := range s.messages {
		if m.Channel == parent.Channel && m.ThreadTS == parent.TS {
			out = append(out, m.wire(meta))
		}
	}
	return map[string]any{"messages": out, "has_more": false}, ""
}

// response records a post to a response_url and answers like Slack.
func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg struct {
		Text            string          `json:"text"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		Blocks          json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "invalid JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.responses = append(s.responses, ResponsePost{
		URL: s.hs.URL + r.URL.Path, Text: msg.Text, ResponseType: msg.ResponseType,
		ReplaceOriginal: msg.ReplaceOriginal, DeleteOriginal: msg.DeleteOriginal, Blocks: msg.Blocks,
	})
	s.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true})
}

// messageFromForm reads channel, text, blocks, thread_ts and metadata and
// checks them as Slack would.
func (s *Server) messageFromForm(form map[string]string) (*Message, string) {
	if !s.channels[form["channel"]] {
		return nil, "channel_not_found"
	}
	m := &Message{Channel: form["channel"], ThreadTS: form["thread_ts"], Text: form["text"]}
	if b := form["blocks"]; b != "" {
		if err := validateBlocks([]byte(b)); err != nil {
			return nil, "invalid_blocks"
		}
		m.Blocks = json.RawMessage(b)
	}
	if m.Text == "" && m.Blocks == nil {
		return nil, "no_text"
	}
	if len(m.Text) > maxTextLen {
		return nil, "msg_too_long"
	}
	if md := form["metadata"]; md != "" {
		var meta slack.SlackMetadata
		if err := json.Unmarshal([]byte(md), &meta); err != nil || meta.EventType == "" {
			return nil, "invalid_metadata_format"
		}
		m.Metadata = &meta
	}
	return m, ""
}

// find returns the message with ts in channel, nil if none.
func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// wire is the message as the Web API returns it; metadata only on request.
func (m *Message) wire(withMetadata bool) map[string]any {
	w := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "bot_id": "B0FERRY01", "user": "U0FERRYBOT"}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		w["blocks"] = m.Blocks
	}
	if withMetadata && m.Metadata != nil {
		w["metadata"] = m.Metadata
	}
	if m.Updates > 0 {
		w["edited"] = map[string]any{"user": "U0FERRYBOT", "ts": m.TS}
	}
	return w
}
