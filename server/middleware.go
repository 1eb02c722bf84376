package server

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"
)

// withDeadline bounds every request's context, so a daemon call that hangs
// ends with a 504 instead of holding the connection.
func (s *Server) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverPanics turns a panicking handler into a logged record with its
// stack and a 500 with a generic message, so one bad request neither kills
// the daemon nor shows internals to the caller. http.ErrAbortHandler is
// passed on: it is net/http's way to abort a response on purpose.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "http handler panicked",
				"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec.status == 0 {
				writeJSONError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequests writes one debug record per request: method, path, status,
// duration and the API user once known. Headers are never logged: they
// carry the bearer token and signatures.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		info := &requestInfo{}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		s.log.DebugContext(r.Context(), "http request", "method", r.Method, "path", r.URL.Path,
			"status", status, "user", info.user, "duration", time.Since(start))
	})
}

// requestInfo lets the auth step tell logRequests who called.
type requestInfo struct{ user string }

type requestInfoKey struct{}

// statusRecorder remembers the status written, so the panic handler knows
// whether a response has started.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
