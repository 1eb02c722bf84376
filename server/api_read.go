package server

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// listPipelines answers GET /api/v1/pipelines: the configured pipelines in
// file order, each with its environments in promotion order.
func (s *Server) listPipelines(w http.ResponseWriter, _ *http.Request, _ string) {
	out := make([]api.Pipeline, 0, len(s.opts.Config.Pipelines))
	for i := range s.opts.Config.Pipelines {
		out = append(out, describe(&s.opts.Config.Pipelines[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// getPipeline answers GET /api/v1/pipelines/{pipeline}.
func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request, _ string) {
	p, ok := s.pipeline(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, describe(p))
}

// listEnvironments answers GET /api/v1/environments and
// /api/v1/pipelines/{pipeline}/environments: statuses in config order
// (pipelines as in the file, environments in promotion order).
func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, _ string) {
	name := ""
	if r.PathValue("pipeline") != "" {
		p, ok := s.pipeline(w, r)
		if !ok {
			return
		}
		name = p.Name
	}
	all, err := s.opts.Daemon.Status(r.Context())
	if err != nil {
		s.daemonError(w, r, "status", err)
		return
	}
	out := make([]ferry.EnvironmentStatus, 0, len(all))
	for _, st := range all {
		if name == "" || st.Pipeline == name {
			out = append(out, st)
		}
	}
	s.sortStatuses(out)
	writeJSON(w, http.StatusOK, out)
}

// getEnvironment answers GET /api/v1/pipelines/{pipeline}/environments/{env}.
func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, _ string) {
	p, e, ok := s.environment(w, r)
	if !ok {
		return
	}
	st, err := s.status(r, p.Name, e.Name)
	if err != nil {
		s.daemonError(w, r, "status", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// history answers GET .../promotions?limit=N: up to N promotions of the
// environment, newest first, with their gate results and figures. N
// defaults to state.historyLimit.
func (s *Server) history(w http.ResponseWriter, r *http.Request, _ string) {
	p, e, ok := s.environment(w, r)
	if !ok {
		return
	}
	limit, ok := s.limit(w, r)
	if !ok {
		return
	}
	proms, err := s.opts.Daemon.History(r.Context(), p.Name, e.Name, limit)
	if err != nil {
		s.daemonError(w, r, "history", err)
		return
	}
	proms = newestFirst(proms)
	if len(proms) > limit {
		proms = proms[:limit]
	}
	writeJSON(w, http.StatusOK, proms)
}

// audit answers GET .../audit?limit=N: up to N writes made to the
// environment through the daemon's operations (API, CLI, Slack), newest
// first: who approved, rejected, promoted, paused or resumed, and when.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, _ string) {
	p, e, ok := s.environment(w, r)
	if !ok {
		return
	}
	limit, ok := s.limit(w, r)
	if !ok {
		return
	}
	entries, err := s.opts.Daemon.Audit(r.Context(), p.Name, e.Name, limit)
	if err != nil {
		s.daemonError(w, r, "audit", err)
		return
	}
	entries = slices.Clone(entries)
	if entries == nil {
		entries = []ferry.AuditEntry{}
	}
	slices.SortStableFunc(entries, func(a, b ferry.AuditEntry) int { return b.Time.Compare(a.Time) })
	if len(entries) > limit {
		entries = entries[:limit]
	}
	writeJSON(w, http.StatusOK, entries)
}

// limit reads the ?limit= of a list, defaulting to state.historyLimit; it
// answers 400 itself for a bad one.
func (s *Server) limit(w http.ResponseWriter, r *http.Request) (int, bool) {
	limit := s.opts.Config.State.HistoryLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxHistoryLimit {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a whole number from 1 to %d", clip(v), api.MaxHistoryLimit))
			return 0, false
		}
		limit = n
	}
	if limit < 1 {
		limit = api.MaxHistoryLimit
	}
	return limit, true
}

// status finds one environment's status, wrapping ferry.ErrNotFound when
// the daemon does not report it.
func (s *Server) status(r *http.Request, pipeline, env string) (ferry.EnvironmentStatus, error) {
	all, err := s.opts.Daemon.Status(r.Context())
	if err != nil {
		return ferry.EnvironmentStatus{}, err
	}
	for _, st := range all {
		if st.Pipeline == pipeline && st.Environment == env {
			return st, nil
		}
	}
	return ferry.EnvironmentStatus{}, fmt.Errorf("%w: no status for %s/%s yet", ferry.ErrNotFound, pipeline, env)
}

// sortStatuses orders statuses as the config does, so tables and scripts
// see a stable order whatever the daemon's map iteration did.
func (s *Server) sortStatuses(sts []ferry.EnvironmentStatus) {
	rank := map[[2]string]int{}
	for _, p := range s.opts.Config.Pipelines {
		for _, e := range p.Ordered() {
			rank[[2]string{p.Name, e.Name}] = len(rank)
		}
	}
	key := func(st ferry.EnvironmentStatus) int {
		if n, ok := rank[[2]string{st.Pipeline, st.Environment}]; ok {
			return n
		}
		return len(rank)
	}
	slices.SortStableFunc(sts, func(a, b ferry.EnvironmentStatus) int { return cmp.Compare(key(a), key(b)) })
}

// newestFirst returns promotions ordered by creation time, newest first,
// never nil (an empty history is [] in JSON).
func newestFirst(proms []ferry.Promotion) []ferry.Promotion {
	out := slices.Clone(proms)
	if out == nil {
		out = []ferry.Promotion{}
	}
	slices.SortStableFunc(out, func(a, b ferry.Promotion) int { return b.Created.Compare(a.Created) })
	return out
}

// clip shortens user input echoed in an error message.
func clip(s string) string {
	const maxLen = 64
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen] + "…"
}
