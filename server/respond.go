package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// The status is sent; a failed write means the client went away.
	_ = enc.Encode(v)
}

// writeJSONError answers status with {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, status, api.Error{Message: msg})
}

// daemonError answers an error from the daemon. The root package's errors
// map to 404, 403 and 409 with the daemon's message, which is written for
// the person who asked; a deadline is 504; anything else is logged and
// answered 500 without detail, since it may describe internals.
func (s *Server) daemonError(w http.ResponseWriter, r *http.Request, op string, err error) {
	var bad requestError
	switch {
	case errors.As(err, &bad):
		writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ferry.ErrNotFound):
		writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ferry.ErrForbidden):
		writeJSONError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, ferry.ErrConflict):
		writeJSONError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(r.Context(), "daemon call timed out", "op", op, "path", r.URL.Path)
		writeJSONError(w, http.StatusGatewayTimeout, op+": timed out")
	default:
		s.log.ErrorContext(r.Context(), "daemon call failed", "op", op, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusInternalServerError, op+": internal error (see ferry's log)")
	}
}

// requestError is a problem with the request itself, answered 400.
type requestError string

func (e requestError) Error() string { return string(e) }
