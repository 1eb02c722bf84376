package gitserver

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"strings"
)

// HTTPOptions configure the smart-HTTP endpoint.
type HTTPOptions struct {
	// Token, when set, is required as the password of HTTP basic auth (any
	// user name), the way Git hosts accept access tokens.
	Token string
	// Stderr receives git http-backend's diagnostics; nil discards them.
	Stderr io.Writer
}

// StartHTTP serves the repositories over smart HTTP on a free port of
// 127.0.0.1 and returns the base URL. Only fetching is served.
func (s *Server) StartHTTP(opts HTTPOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return "", errors.New("gitserver: HTTP already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	backend := &cgi.Handler{
		Path:   s.git,
		Args:   []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: opts.Stderr,
	}
	if backend.Stderr == nil {
		backend.Stderr = io.Discard
	}
	srv := &http.Server{Handler: &httpHandler{backend: backend, token: opts.Token, stats: &s.stats}}
	s.httpSrv = srv
	s.httpAddr = ln.Addr().String()
	// srv, not s.httpSrv: Close may clear the field before this runs.
	go func() { _ = srv.Serve(ln) }()
	return "http://" + s.httpAddr, nil
}

type httpHandler struct {
	backend http.Handler
	token   string
	stats   *counter
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stats.begin()
	defer h.stats.end()
	if h.token != "" {
		_, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(pass), []byte(h.token)) != 1 {
			h.stats.add(func(s *Stats) { s.AuthFailures++ })
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") && r.URL.Query().Get("service") == "git-upload-pack":
		h.stats.add(func(s *Stats) { s.Advertisements++ })
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		// Protocol v2 clients (the git CLI) list refs with a POST too;
		// only the others ask for objects.
		br := bufio.NewReader(r.Body)
		head, _ := br.Peek(64)
		r.Body = struct {
			io.Reader
			io.Closer
		}{br, r.Body}
		if !bytes.Contains(head, []byte("command=ls-refs")) {
			h.stats.add(func(s *Stats) { s.Negotiations++ })
		}
	case strings.Contains(r.URL.Path, "receive-pack") || r.URL.Query().Get("service") == "git-receive-pack":
		http.Error(w, "gitserver serves fetches only", http.StatusForbidden)
		return
	}
	body := &countingReader{r: r.Body}
	r.Body = body
	cw := &countingWriter{ResponseWriter: w}
	h.backend.ServeHTTP(cw, r)
	h.stats.add(func(s *Stats) {
		s.BytesOut += cw.n
		s.BytesIn += body.n
	})
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
