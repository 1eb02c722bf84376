package gitserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Server serves the bare repositories under one root directory over HTTP
// and/or SSH on 127.0.0.1. The zero value is not usable; call New. It is safe
// for concurrent use.
type Server struct {
	root string
	git  string

	stats counter

	mu        sync.Mutex
	httpSrv   *http.Server
	httpAddr  string
	sshLn     net.Listener
	sshAddr   string
	hostKeys  []ssh.Signer
	sshCancel context.CancelFunc
	sshWG     sync.WaitGroup
}

// New returns a server for the repositories under root, which it creates.
// It needs the `git` binary on PATH.
func New(root string) (*Server, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("gitserver needs the git binary: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create repository root: %w", err)
	}
	return &Server{root: root, git: git}, nil
}

// Root is the directory that holds the bare repositories.
func (s *Server) Root() string { return s.root }

// CreateRepo creates an empty bare repository name.git whose default branch
// is main, and returns a builder for it.
func (s *Server) CreateRepo(name string) (*Repo, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("repository name %q: want a plain name without slashes", name)
	}
	dir := filepath.Join(s.root, name+".git")
	if out, err := exec.Command(s.git, "init", "--quiet", "--bare", "--initial-branch=main", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init %s: %w: %s", dir, err, out)
	}
	return &Repo{name: name, dir: dir, git: s.git}, nil
}

// HTTPURL is the smart-HTTP URL of repository name; StartHTTP must have run.
func (s *Server) HTTPURL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.httpAddr + "/" + name + ".git"
}

// SSHURL is the ssh:// URL of repository name for user git; StartSSH must
// have run.
func (s *Server) SSHURL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "ssh://git@" + s.sshAddr + "/" + name + ".git"
}

// Stats returns what the server has served since it started or since the
// last ResetStats, once requests in flight have ended.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats sets every counter back to zero.
func (s *Server) ResetStats() { s.stats.reset() }

// Close stops the HTTP and SSH listeners and waits for SSH sessions to end.
func (s *Server) Close() error {
	s.mu.Lock()
	httpSrv, sshLn, cancel := s.httpSrv, s.sshLn, s.sshCancel
	s.httpSrv, s.sshLn, s.sshCancel = nil, nil, nil
	s.mu.Unlock()
	var errs []error
	if httpSrv != nil {
		errs = append(errs, httpSrv.Close())
	}
	if sshLn != nil {
		cancel()
		if err := sshLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		s.sshWG.Wait()
	}
	return errors.Join(errs...)
}
