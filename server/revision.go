package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// isFullSHA reports whether rev is a whole SHA-1 or SHA-256 commit id,
// which the daemon judges itself; shorter ones the server expands first.
func isFullSHA(rev string) bool { return len(rev) == 40 || len(rev) == 64 }

// waitingRevision expands a short revision to the promotion waiting in the
// environment, so "ferry approve prod 1a2b3c4" approves exactly what the
// person saw. A prefix that does not match what waits is a conflict; a full
// SHA goes to the daemon unchanged.
func (s *Server) waitingRevision(r *http.Request, pipeline, env, rev string) (string, error) {
	if isFullSHA(rev) {
		return rev, nil
	}
	st, err := s.status(r, pipeline, env)
	if err != nil {
		return "", err
	}
	a := st.Active
	if a != nil && a.Phase == ferry.PhaseWaiting && strings.HasPrefix(a.Revision.SHA, rev) {
		return a.Revision.SHA, nil
	}
	if a != nil && a.Phase == ferry.PhaseWaiting {
		return "", fmt.Errorf("%s is not waiting for approval in %s (%s is): %w", rev, env, a.Revision.Short(), ferry.ErrConflict)
	}
	return "", fmt.Errorf("%s is not waiting for approval in %s (nothing is): %w", rev, env, ferry.ErrConflict)
}

// upstreamRevision expands a short revision to one that succeeded in the
// environment's upstream (its `from`), or, for the first environment, to
// one it ran. An ambiguous prefix is a 400 listing the matches; no match is
// a conflict (it has not passed upstream). A full SHA goes to the daemon,
// which has the final word.
func (s *Server) upstreamRevision(r *http.Request, p *config.Pipeline, e *config.Environment, rev string) (string, error) {
	if isFullSHA(rev) {
		return rev, nil
	}
	source := e.Name
	if e.From != "" {
		source = e.From
	}
	st, err := s.status(r, p.Name, source)
	if err != nil {
		return "", err
	}
	known := []string{st.Current.SHA}
	proms, err := s.opts.Daemon.History(r.Context(), p.Name, source, s.opts.Config.State.HistoryLimit)
	if err != nil {
		return "", err
	}
	for _, pr := range proms {
		if e.From == "" || pr.Phase == ferry.PhaseSucceeded {
			known = append(known, pr.Revision.SHA)
		}
	}
	var matches []string
	for _, sha := range known {
		if sha != "" && strings.HasPrefix(sha, rev) && !slices.Contains(matches, sha) {
			matches = append(matches, sha)
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		return "", requestError(fmt.Sprintf("revision %s is ambiguous: %s; give more digits", rev, strings.Join(matches, ", ")))
	case e.From == "":
		return "", fmt.Errorf("no revision starting with %s is known in %s; give the full SHA: %w", rev, e.Name, ferry.ErrNotFound)
	}
	return "", fmt.Errorf("no revision starting with %s succeeded in %s: %w", rev, e.From, ferry.ErrConflict)
}
