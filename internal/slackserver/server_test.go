package slackserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

const token = "xoxb-server-test"

func client(s *Server, tok string) *slack.Client {
	return slack.New(tok, slack.OptionAPIURL(s.APIURL()))
}

func TestTimestampsAreUniqueAndIncreasing(t *testing.T) {
	s := New(token)
	defer s.Close()
	c := client(s, token)
	var prev string
	for i := range 50 {
		_, ts, err := c.PostMessage(DefaultChannel, slack.MsgOptionText(fmt.Sprint(i), false))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("1700000000.%06d", i+1)
		if ts != want || ts <= prev {
			t.Fatalf("post %d got ts %q after %q, want %q", i, ts, prev, want)
		}
		prev = ts
	}
	if got := len(s.Messages(DefaultChannel)); got != 50 {
		t.Errorf("%d messages stored, want 50", got)
	}
}

func TestMethodsBehaveLikeSlack(t *testing.T) {
	tests := []struct {
		name    string
		run     func(c *slack.Client, s *Server) error
		wantErr string
	}{
		{"a wrong token is invalid_auth", func(_ *slack.Client, s *Server) error {
			_, err := client(s, "xoxb-other").AuthTest()
			return err
		}, "invalid_auth"},
		{"an unknown channel is channel_not_found", func(c *slack.Client, _ *Server) error {
			_, _, err := c.PostMessage("C0NOPE", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"51 blocks are invalid_blocks", func(c *slack.Client, _ *Server) error {
			var blocks []slack.Block
			for range 51 {
				blocks = append(blocks, slack.NewDividerBlock())
			}
			_, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionBlocks(blocks...))
			return err
		}, "invalid_blocks"},
		{"3001 characters of section text are invalid_blocks", func(c *slack.Client, _ *Server) error {
			b := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", 3001), false, false), nil, nil)
			_, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionBlocks(b))
			return err
		}, "invalid_blocks"},
		{"a reply to an unknown thread is thread_not_found", func(c *slack.Client, _ *Server) error {
			_, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001"))
			return err
		}, "thread_not_found"},
		{"updating an unknown message is message_not_found", func(c *slack.Client, _ *Server) error {
			_, _, _, err := c.UpdateMessage(DefaultChannel, "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"an injected API error is answered once", func(c *slack.Client, s *Server) error {
			s.Inject("chat.postMessage", Fault{Error: "not_in_channel"})
			if _, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("x", false)); err == nil {
				return errors.New("first post succeeded")
			}
			_, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("x", false))
			return err
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(token)
			defer s.Close()
			err := tc.run(client(s, token), s)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestHistoryAndRepliesCarryMetadataOnRequest(t *testing.T) {
	s := New(token)
	defer s.Close()
	c := client(s, token)
	meta := slack.SlackMetadata{EventType: "ferry_revision", EventPayload: map[string]any{"revision": "abc"}}
	_, parent, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("parent", false), slack.MsgOptionMetadata(meta))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent), slack.MsgOptionMetadata(meta)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.UpdateMessage(DefaultChannel, parent, slack.MsgOptionText("parent v2", false)); err != nil {
		t.Fatal(err)
	}
	for _, withMeta := range []bool{false, true} {
		h, err := c.GetConversationHistoryContext(context.Background(), &slack.GetConversationHistoryParameters{ChannelID: DefaultChannel, IncludeAllMetadata: withMeta})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Messages) != 1 || h.Messages[0].Text != "parent v2" || h.Messages[0].Timestamp != parent {
			t.Fatalf("history = %+v, want only the updated parent", h.Messages)
		}
		if got := h.Messages[0].Metadata.EventType; (got == "ferry_revision") != withMeta {
			t.Errorf("include_all_metadata=%v gave event type %q", withMeta, got)
		}
	}
	msgs, _, _, err := c.GetConversationRepliesContext(context.Background(), &slack.GetConversationRepliesParameters{ChannelID: DefaultChannel, Timestamp: parent, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Text != "reply" || msgs[1].Metadata.EventPayload["revision"] != "abc" {
		t.Errorf("replies = %+v, want the parent and one reply with metadata", msgs)
	}
	if got := s.Messages(DefaultChannel)[0].Updates; got != 1 {
		t.Errorf("parent updates = %d, want 1", got)
	}
}

func TestRateLimitFaultsReachTheClientAsSlackReportsThem(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.Inject("chat.postMessage", Fault{Status: 429, RetryAfter: "3"}, Fault{Status: 429}, Fault{Status: 500})
	c := client(s, token)
	post := func() error {
		_, _, err := c.PostMessage(DefaultChannel, slack.MsgOptionText("x", false))
		return err
	}
	var limited *slack.RateLimitedError
	if err := post(); !errors.As(err, &limited) || limited.RetryAfter.Seconds() != 3 {
		t.Errorf("first post: %v, want a rate-limit error of 3s", err)
	}
	var status slack.StatusCodeError
	if err := post(); !errors.As(err, &status) || status.Code != 429 {
		t.Errorf("second post: %v, want a plain 429 status error", err)
	}
	if err := post(); !errors.As(err, &status) || status.Code != 500 {
		t.Errorf("third post: %v, want a 500 status error", err)
	}
	if err := post(); err != nil {
		t.Errorf("fourth post: %v", err)
	}
	if got := len(s.Messages(DefaultChannel)); got != 1 {
		t.Errorf("%d messages stored, want 1", got)
	}
}

func TestSignMatchesSlacksExample(t *testing.T) {
	// The worked example from Slack's "Verifying requests from Slack" guide.
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := Sign("8f742231b10e8888abcd99yyyzzz85a5", unix(1531420618), []byte(body))
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func unix(sec int64) time.Time { return time.Unix(sec, 0) }
