package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// SSHOptions configure the SSH endpoint.
type SSHOptions struct {
	// HostKeys are offered to clients; a client picks one by algorithm.
	HostKeys []ssh.Signer
	// AuthorizedKeys may log in (any user name); nobody else can.
	AuthorizedKeys []ssh.PublicKey
}

// StartSSH serves git-upload-pack over SSH on a free port of 127.0.0.1 and
// returns its address (host:port).
func (s *Server) StartSSH(opts SSHOptions) (string, error) {
	if len(opts.HostKeys) == 0 {
		return "", errors.New("gitserver: SSH needs at least one host key")
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opts.AuthorizedKeys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			s.stats.add(func(st *Stats) { st.AuthFailures++ })
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range opts.HostKeys {
		cfg.AddHostKey(k)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sshLn != nil {
		return "", errors.New("gitserver: SSH already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.sshLn, s.sshAddr, s.sshCancel, s.hostKeys = ln, ln.Addr().String(), cancel, opts.HostKeys
	s.sshWG.Add(1)
	go func() {
		defer s.sshWG.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.sshWG.Add(1)
			go func() {
				defer s.sshWG.Done()
				s.serveSSHConn(ctx, conn, cfg)
			}()
		}
	}()
	return s.sshAddr, nil
}

// SSHAddr is the SSH listener's host:port.
func (s *Server) SSHAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sshAddr
}

func (s *Server) serveSSHConn(ctx context.Context, conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveSession(ctx, ch, chReqs)
		}()
	}
	wg.Wait()
}

func (s *Server) serveSession(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "env":
			_ = req.Reply(true, nil)
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			code := s.runGit(ctx, ch, payload.Command)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// runGit runs the upload-pack that the client asked for and returns its exit
// code. Pushing goes through Repo, so receive-pack is refused.
func (s *Server) runGit(ctx context.Context, ch ssh.Channel, command string) uint32 {
	s.stats.begin()
	defer s.stats.end()
	service, arg, _ := strings.Cut(command, " ")
	if service != "git-upload-pack" {
		fmt.Fprintf(ch.Stderr(), "fatal: gitserver serves git-upload-pack only, not %q\n", service)
		return 128
	}
	repo := strings.Trim(strings.TrimSpace(arg), `'"`)
	dir := filepath.Join(s.root, filepath.Clean("/"+repo))
	cmd := exec.CommandContext(ctx, s.git, "upload-pack", dir)
	in := &wantDetector{}
	out := &countingWriterTo{w: ch}
	cmd.Stdout = out
	cmd.Stderr = ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 128
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "fatal: %v\n", err)
		return 128
	}
	// Copy without waiting: the client keeps the channel open until it has
	// the exit status, so this copy ends only after the reply.
	go func() {
		_, _ = io.Copy(io.MultiWriter(in, stdin), ch)
		_ = stdin.Close()
	}()
	err = cmd.Wait()
	s.stats.add(func(st *Stats) {
		st.Advertisements++
		st.BytesOut += out.n
		st.BytesIn += in.total()
		if in.wanted() {
			st.Negotiations++
		}
	})
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return uint32(exitErr.ExitCode())
	}
	if err != nil {
		return 128
	}
	return 0
}

type countingWriterTo struct {
	w io.Writer
	n int64
}

func (c *countingWriterTo) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// wantDetector notes whether a client's upload-pack input asked for objects
// (a pkt-line starting "want "), keeping a short tail so a split write is seen.
type wantDetector struct {
	mu   sync.Mutex
	n    int64
	tail []byte
	want bool
}

func (d *wantDetector) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n += int64(len(p))
	buf := append(d.tail, p...)
	if bytes.Contains(buf, []byte("want ")) {
		d.want = true
	}
	if len(buf) > 4 {
		buf = buf[len(buf)-4:]
	}
	d.tail = append(d.tail[:0], buf...)
	return len(p), nil
}

func (d *wantDetector) total() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *wantDetector) wanted() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.want
}
