package gitsource

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Sentinel errors a caller can test with errors.Is. They are terminal until
// the user fixes something: retrying does not help.
var (
	// ErrAuthFailed: the server refused the credentials (or wanted some).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrRepositoryNotFound: nothing at the URL (some hosts also answer this
	// for a private repository without credentials).
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrRevisionNotFound: the commit is neither cached nor reachable from
	// the branch any more.
	ErrRevisionNotFound = errors.New("revision not found")
)

// BranchNotFoundError says the tracked branch does not exist on the server
// and which branches do.
type BranchNotFoundError struct {
	URL      string
	Branch   string
	Existing []string
}

func (e *BranchNotFoundError) Error() string {
	if len(e.Existing) == 0 {
		return fmt.Sprintf("branch %q not found in %s: the repository has no branches", e.Branch, e.URL)
	}
	return fmt.Sprintf("branch %q not found in %s; branches that exist: %s", e.Branch, e.URL, strings.Join(e.Existing, ", "))
}

// HostKeyError says the SSH server's host key could not be verified against
// known_hosts. Offered is the server's key fingerprint, so a user can check it
// out of band before adding it.
type HostKeyError struct {
	// Host is the known_hosts form of the address: host, or [host]:port.
	Host string
	// Algorithm and Fingerprint (SHA256:...) describe the key the server offered.
	Algorithm   string
	Fingerprint string
	// Known lists "algorithm fingerprint" of the keys known_hosts has for the
	// host; empty when the host is unknown.
	Known []string
}

func (e *HostKeyError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("ssh host key of %s is not in known_hosts: the server offered %s %s; verify it and add it to known_hosts",
			e.Host, e.Algorithm, e.Fingerprint)
	}
	return fmt.Sprintf("ssh host key of %s does not match known_hosts: the server offered %s %s, known_hosts has %s; the host key changed or this is not the right server",
		e.Host, e.Algorithm, e.Fingerprint, strings.Join(e.Known, ", "))
}

// classify turns a go-git transport error into one of this package's errors,
// keeping the original wrapped and never a credential.
func classify(err error, op, u string) error {
	if err == nil {
		return nil
	}
	var hk *HostKeyError
	var bnf *BranchNotFoundError
	switch {
	case errors.As(err, &hk):
		return fmt.Errorf("%s %s: %w", op, u, hk)
	case errors.As(err, &bnf):
		return fmt.Errorf("%s %s: %w", op, u, bnf)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("%s %s: %w (check the token or SSH key, and that it may read this repository); the server said: %s",
			op, u, ErrAuthFailed, strings.TrimSpace(err.Error()))
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s %s: %w (check the url)", op, u, ErrRepositoryNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, u, err)
}

// redactURL drops any password from a URL so it can go into messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
