package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// decide answers POST .../approve and .../reject: it records user's
// decision on the revision waiting in the environment. The daemon checks the
// approver list (403) and that the revision is waiting (409).
func (s *Server) decide(reject bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, user string) {
		p, e, ok := s.environment(w, r)
		if !ok {
			return
		}
		var req api.DecisionRequest
		if !decodeBody(w, r, &req) {
			return
		}
		rev, msg := parseRevision(req.Revision)
		if msg == "" && reject {
			req.Reason, msg = parseReason(req.Reason)
		}
		if msg == "" {
			msg = checkVia(&req.Via)
		}
		if msg != "" {
			writeJSONError(w, http.StatusBadRequest, msg)
			return
		}
		op, verb := "approve", "approved"
		if reject {
			op, verb = "reject", "rejected"
		}
		sha, err := s.waitingRevision(r, p.Name, e.Name, rev)
		if err != nil {
			s.daemonError(w, r, op, err)
			return
		}
		a := ferry.Approval{
			Actor: user, Pipeline: p.Name, Environment: e.Name, Revision: sha,
			Time: s.opts.Now(), Via: req.Via, Rejected: reject,
		}
		if reject {
			a.Reason = req.Reason
		}
		if err := s.opts.Daemon.Decide(r.Context(), a); err != nil {
			s.daemonError(w, r, op, err)
			return
		}
		short := ferry.Revision{SHA: sha}.Short()
		s.log.InfoContext(r.Context(), "api decision recorded", "op", op, "pipeline", p.Name, "env", e.Name, "revision", sha, "user", user)
		writeJSON(w, http.StatusOK, api.WriteResult{Revision: sha, Message: fmt.Sprintf("%s %s %s for %s", user, verb, short, e.Name)})
	}
}

// promote answers POST .../promote: the daemon brings a revision that
// passed upstream to the environment. 202: the promotion runs after the
// answer.
func (s *Server) promote(w http.ResponseWriter, r *http.Request, user string) {
	p, e, ok := s.environment(w, r)
	if !ok {
		return
	}
	var req api.PromoteRequest
	if !decodeBody(w, r, &req) {
		return
	}
	rev, msg := parseRevision(req.Revision)
	if msg != "" {
		writeJSONError(w, http.StatusBadRequest, msg)
		return
	}
	sha, err := s.upstreamRevision(r, p, e, rev)
	if err != nil {
		s.daemonError(w, r, "promote", err)
		return
	}
	if err := s.opts.Daemon.Promote(r.Context(), p.Name, e.Name, sha, user); err != nil {
		s.daemonError(w, r, "promote", err)
		return
	}
	s.log.InfoContext(r.Context(), "api promotion requested", "pipeline", p.Name, "env", e.Name, "revision", sha, "user", user)
	short := ferry.Revision{SHA: sha}.Short()
	writeJSON(w, http.StatusAccepted, api.WriteResult{Revision: sha, Message: fmt.Sprintf("%s asked to promote %s to %s", user, short, e.Name)})
}

// setPaused answers POST .../pause and .../resume. The body may be empty.
func (s *Server) setPaused(paused bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, user string) {
		p, e, ok := s.environment(w, r)
		if !ok {
			return
		}
		var req struct{}
		if !decodeBody(w, r, &req) {
			return
		}
		op, msg := "resume", fmt.Sprintf("%s resumed %s", user, e.Name)
		if paused {
			op, msg = "pause", fmt.Sprintf("%s paused %s: no promotion starts there until it is resumed", user, e.Name)
		}
		if err := s.opts.Daemon.SetPaused(r.Context(), p.Name, e.Name, paused, user); err != nil {
			s.daemonError(w, r, op, err)
			return
		}
		s.log.InfoContext(r.Context(), "api "+op, "pipeline", p.Name, "env", e.Name, "user", user)
		writeJSON(w, http.StatusOK, api.WriteResult{Message: msg})
	}
}

// decodeBody reads a JSON object of at most api.MaxRequestBody bytes into
// v, refusing unknown fields and trailing data; an empty body leaves v as
// it is. It answers 413 or 400 itself and returns false then.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, api.MaxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF) && dec.InputOffset() == 0:
		return true
	case errors.As(err, &tooBig):
		writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", api.MaxRequestBody))
	default:
		writeJSONError(w, http.StatusBadRequest, "request body: "+err.Error())
	}
	return false
}

// parseRevision normalises a revision given by a person: 4 to 64 hex
// digits, any case. It returns the message for a 400 otherwise.
func parseRevision(s string) (string, string) {
	rev := strings.ToLower(strings.TrimSpace(s))
	if rev == "" {
		return "", "revision is required"
	}
	if len(rev) < 4 || len(rev) > 64 || strings.Trim(rev, "0123456789abcdef") != "" {
		return "", fmt.Sprintf("revision %q is not a commit SHA (4 to 64 hex digits)", clip(s))
	}
	return rev, ""
}

// parseReason checks a rejection reason: required, at most api.MaxReason
// characters, no control characters but newlines and tabs.
func parseReason(s string) (string, string) {
	reason := strings.TrimSpace(s)
	switch {
	case reason == "":
		return "", "a rejection needs a reason"
	case utf8.RuneCountInString(reason) > api.MaxReason:
		return "", fmt.Sprintf("reason is longer than %d characters", api.MaxReason)
	case !utf8.ValidString(reason):
		return "", "reason is not valid UTF-8"
	case strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "", "reason contains control characters"
	}
	return reason, ""
}

// checkVia defaults via to api and accepts only the channels the API serves.
func checkVia(via *string) string {
	switch *via {
	case "":
		*via = api.ViaAPI
	case api.ViaAPI, api.ViaCLI:
	default:
		return fmt.Sprintf("via %q: want %q or %q", clip(*via), api.ViaAPI, api.ViaCLI)
	}
	return ""
}
