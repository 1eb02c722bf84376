package slackserver

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/slack-go/slack"
)

// DefaultChannel is the channel ID a server knows when New is given none.
const DefaultChannel = "C0FERRY01"

// firstTS is the first timestamp handed out, in microseconds since the epoch.
const firstTS = int64(1_700_000_000_000_000)

// Message is one stored message: a channel message, a thread reply
// (ThreadTS set) or an ephemeral message (User set).
type Message struct {
	Channel string
	TS      string
	// ThreadTS is the parent's ts for a thread reply, empty otherwise.
	ThreadTS string
	// User is the recipient of an ephemeral message, empty otherwise.
	User     string
	Text     string
	Blocks   json.RawMessage
	Metadata *slack.SlackMetadata
	// Updates counts the chat.update calls applied to the message.
	Updates int
}

// Call is one Web API call as the server saw it, for transcripts.
type Call struct {
	Method   string
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	// User is the user the call names (users.info, chat.postEphemeral).
	User string
	// Outcome is "ok", "HTTP 429 (Retry-After: 3)", "HTTP 500",
	// "error: channel_not_found" or "accepted, no answer".
	Outcome string
}

// ResponsePost is one message posted to a response_url.
type ResponsePost struct {
	// URL is the response_url it was posted to.
	URL             string
	Text            string
	ResponseType    string
	ReplaceOriginal bool
	DeleteOriginal  bool
	Blocks          json.RawMessage
}

// Server is a Slack Web API server on loopback. It is safe for concurrent use.
type Server struct {
	token string
	hs    *httptest.Server
	quit  chan struct{}

	mu        sync.Mutex
	lastTS    int64
	channels  map[string]bool
	messages  []*Message
	calls     []Call
	faults    map[string][]Fault
	responses []ResponsePost
	nextResp  int
	users     map[string]User
}

// New starts a server on 127.0.0.1 that accepts token and knows the given
// channel IDs (DefaultChannel when none are given). Close stops it.
func New(token string, channels ...string) *Server {
	if len(channels) == 0 {
		channels = []string{DefaultChannel}
	}
	s := &Server{
		token:    token,
		quit:     make(chan struct{}),
		lastTS:   firstTS,
		channels: map[string]bool{},
		faults:   map[string][]Fault{},
		users:    map[string]User{},
	}
	for _, c := range channels {
		s.channels[c] = true
	}
	mux := http.NewServeMux()
	for method, h := range map[string]apiHandler{
		"auth.test":             s.authTest,
		"chat.postMessage":      s.postMessage,
		"chat.postEphemeral":    s.postEphemeral,
		"chat.update":           s.update,
		"conversations.history": s.history,
		"conversations.replies": s.replies,
		"users.info":            s.usersInfo,
	} {
		mux.Handle("POST /api/"+method, s.api(method, h))
	}
	mux.HandleFunc("POST /response/{id}", s.response)
	s.hs = httptest.NewServer(mux)
	return s
}

// APIURL is the base URL to give slack-go's OptionAPIURL (ends in "/api/").
func (s *Server) APIURL() string { return s.hs.URL + "/api/" }

// URL is the server's base URL.
func (s *Server) URL() string { return s.hs.URL }

// Close releases hanging calls and stops the server.
func (s *Server) Close() {
	close(s.quit)
	s.hs.Close()
}

// ResponseURL hands out a fresh response_url on this server, as Slack puts
// one in every interaction payload.
func (s *Server) ResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextResp++
	return fmt.Sprintf("%s/response/%d", s.hs.URL, s.nextResp)
}

// apiHandler serves one method from its form values with s.mu held and
// returns the JSON answer, or a Slack error code.
type apiHandler func(form map[string]string) (answer map[string]any, slackErr string)

// api wraps a method: token check, scripted faults, transcript, answer.
func (s *Server) api(method string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		call := Call{Method: method, Channel: form["channel"], ThreadTS: form["thread_ts"], Text: form["text"], TS: form["ts"], User: form["user"]}

		s.mu.Lock()
		fault, faulty := s.nextFault(method)
		switch {
		case !s.authorized(r, form):
			call.Outcome = "error: invalid_auth"
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		case faulty && fault.Status != 0:
			call.Outcome = fmt.Sprintf("HTTP %d", fault.Status)
			if fault.RetryAfter != "" {
				call.Outcome += " (Retry-After: " + fault.RetryAfter + ")"
			}
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			http.Error(w, http.StatusText(fault.Status), fault.Status)
			return
		case faulty && fault.Error != "":
			call.Outcome = "error: " + fault.Error
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": fault.Error})
			return
		}
		answer, slackErr := h(form)
		if ts, ok := answer["ts"].(string); ok {
			call.TS = ts
		}
		switch {
		case slackErr != "":
			call.Outcome = "error: " + slackErr
		case faulty && fault.AcceptThenHang:
			call.Outcome = "accepted, no answer"
		default:
			call.Outcome = "ok"
		}
		s.calls = append(s.calls, call)
		s.mu.Unlock()

		if slackErr != "" {
			writeJSON(w, map[string]any{"ok": false, "error": slackErr})
			return
		}
		if faulty && fault.AcceptThenHang {
			select {
			case <-r.Context().Done():
			case <-s.quit:
			}
			return
		}
		answer["ok"] = true
		writeJSON(w, answer)
	})
}

// authorized accepts the token as a bearer header or as the form's token
// field, as Slack does.
func (s *Server) authorized(r *http.Request, form map[string]string) bool {
	got := form["token"]
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = h
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// newTS returns the next unique timestamp, strictly after every earlier one.
func (s *Server) newTS() string {
	s.lastTS++
	return strconv.FormatInt(s.lastTS/1_000_000, 10) + "." + fmt.Sprintf("%06d", s.lastTS%1_000_000)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
