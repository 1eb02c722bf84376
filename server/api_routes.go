package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/server/api"
)

// apiHandler serves one API endpoint for user, the token's owner ("" when
// no tokens file is configured and the endpoint only reads).
type apiHandler func(w http.ResponseWriter, r *http.Request, user string)

// apiRoutes registers the API v1 endpoints. Paths are registered without a
// method so a wrong method gets a JSON 405 rather than the mux's text.
func (s *Server) apiRoutes(mux *http.ServeMux) {
	const env = api.Prefix + "/pipelines/{pipeline}/environments/{env}"
	s.handle(mux, api.Prefix+"/pipelines", http.MethodGet, s.listPipelines)
	s.handle(mux, api.Prefix+"/pipelines/{pipeline}", http.MethodGet, s.getPipeline)
	s.handle(mux, api.Prefix+"/environments", http.MethodGet, s.listEnvironments)
	s.handle(mux, api.Prefix+"/pipelines/{pipeline}/environments", http.MethodGet, s.listEnvironments)
	s.handle(mux, env, http.MethodGet, s.getEnvironment)
	s.handle(mux, env+"/promotions", http.MethodGet, s.history)
	s.handle(mux, env+"/audit", http.MethodGet, s.audit)
	s.handle(mux, env+"/approve", http.MethodPost, s.decide(false))
	s.handle(mux, env+"/reject", http.MethodPost, s.decide(true))
	s.handle(mux, env+"/promote", http.MethodPost, s.promote)
	s.handle(mux, env+"/pause", http.MethodPost, s.setPaused(true))
	s.handle(mux, env+"/resume", http.MethodPost, s.setPaused(false))
	mux.HandleFunc(api.Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no API endpoint "+r.URL.Path)
	})
}

// handle registers h at pattern for method, behind the method check and
// authentication. POST endpoints are writes.
func (s *Server) handle(mux *http.ServeMux, pattern, method string, h apiHandler) {
	write := method != http.MethodGet
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeJSONError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, method))
			return
		}
		user, ok := s.authenticate(w, r, write)
		if !ok {
			return
		}
		h(w, r, user)
	})
}

// authenticate maps the request's bearer token to a user, answering 401
// for a missing or unknown token. Without a tokens file there are no users:
// reads pass anonymously and writes are refused with 403.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, write bool) (string, bool) {
	if s.tokens == nil {
		if write {
			writeJSONError(w, http.StatusForbidden, "the write API is disabled: server.apiTokensFile is not set")
			return "", false
		}
		return "", true
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		writeJSONError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)")
		return "", false
	}
	user, ok := s.tokens.user(strings.TrimSpace(token))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry", error="invalid_token"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid bearer token")
		s.log.WarnContext(r.Context(), "api request with an unknown token", "remote", r.RemoteAddr, "path", r.URL.Path)
		return "", false
	}
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.user = user
	}
	return user, true
}

// pipeline finds the path's pipeline, answering 404 naming the known ones.
func (s *Server) pipeline(w http.ResponseWriter, r *http.Request) (*config.Pipeline, bool) {
	name := r.PathValue("pipeline")
	for i := range s.opts.Config.Pipelines {
		if s.opts.Config.Pipelines[i].Name == name {
			return &s.opts.Config.Pipelines[i], true
		}
	}
	names := make([]string, 0, len(s.opts.Config.Pipelines))
	for _, p := range s.opts.Config.Pipelines {
		names = append(names, p.Name)
	}
	writeJSONError(w, http.StatusNotFound, fmt.Sprintf("unknown pipeline %q (pipelines: %s)", name, strings.Join(names, ", ")))
	return nil, false
}

// environment finds the path's pipeline and environment, answering 404
// naming the known ones.
func (s *Server) environment(w http.ResponseWriter, r *http.Request) (*config.Pipeline, *config.Environment, bool) {
	p, ok := s.pipeline(w, r)
	if !ok {
		return nil, nil, false
	}
	name := r.PathValue("env")
	var names []string
	for _, e := range p.Ordered() {
		if e.Name == name {
			return p, e, true
		}
		names = append(names, e.Name)
	}
	writeJSONError(w, http.StatusNotFound, fmt.Sprintf("pipeline %s has no environment %q (environments: %s)", p.Name, name, strings.Join(names, ", ")))
	return nil, nil, false
}

// describe turns a configured pipeline into its API description.
func describe(p *config.Pipeline) api.Pipeline {
	out := api.Pipeline{Name: p.Name, Branch: p.Source.Branch, Chart: p.Chart, Webhook: p.Source.Webhook != nil}
	for _, e := range p.Ordered() {
		d := api.Environment{Name: e.Name, From: e.From, Gates: slices.Clone(e.GateNames())}
		if e.Approval != nil {
			d.Approvers = slices.Clone(e.Approval.Approvers)
			d.RequiredApprovals = e.Approval.Required
		}
		out.Environments = append(out.Environments, d)
	}
	return out
}
