package gitsource

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Options describe one source. Auth material arrives already read from its
// files, so this package does no config-file reading of its own.
type Options struct {
	// URL is https://, http:// (loopback only when a token is set), ssh://,
	// scp-like user@host:path, file:// or a local path.
	URL string
	// Branch is the short branch name to follow, e.g. "main".
	Branch string
	// CacheDir holds the bare repository; it is created when missing and
	// reused across restarts. One cache directory per URL.
	CacheDir string
	// Auth is what the server wants to see; zero for anonymous access.
	Auth Auth
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
}

// Auth carries credentials. Only the fields that fit the URL's scheme may be
// set: Token (and Username) for HTTP(S), SSHKey and KnownHosts for SSH.
type Auth struct {
	// Username goes with Token in HTTP basic auth; Git hosts accept any
	// non-empty name with an access token. Default "git".
	Username string
	// Token is the HTTPS access token (surrounding whitespace is ignored, so
	// a token file's trailing newline does no harm).
	Token string
	// SSHKey is a private key in PEM/OpenSSH form.
	SSHKey []byte
	// SSHKeyPassphrase decrypts SSHKey when it is encrypted.
	SSHKeyPassphrase string
	// KnownHosts is the content of a known_hosts file; required with SSHKey,
	// because the server's host key is always verified.
	KnownHosts []byte
}

// validate checks the options and reports every problem at once, naming the
// option, never the secret.
func (o Options) validate() (*transport.Endpoint, error) {
	var errs []error
	if o.URL == "" {
		errs = append(errs, errors.New("url: required"))
	}
	if o.Branch == "" {
		errs = append(errs, errors.New("branch: required"))
	} else if err := plumbing.NewBranchReferenceName(o.Branch).Validate(); err != nil || strings.HasPrefix(o.Branch, "refs/") {
		errs = append(errs, fmt.Errorf("branch %q: not a valid branch name (give the short name, e.g. main)", o.Branch))
	}
	if o.CacheDir == "" {
		errs = append(errs, errors.New("cacheDir: required"))
	}
	var ep *transport.Endpoint
	if o.URL != "" {
		var err error
		ep, err = transport.NewEndpoint(o.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("url %q: %w", redactURL(o.URL), err))
		}
	}
	if ep != nil {
		errs = append(errs, o.Auth.validateFor(ep)...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("gitsource options: %w", errors.Join(errs...))
	}
	return ep, nil
}

func (a Auth) validateFor(ep *transport.Endpoint) []error {
	var errs []error
	token := strings.TrimSpace(a.Token) != ""
	ssh := len(a.SSHKey) > 0 || len(a.KnownHosts) > 0
	switch ep.Protocol {
	case "https":
		if ssh {
			errs = append(errs, errors.New("auth: an SSH key or known_hosts is set but the url is https"))
		}
	case "http":
		if ssh {
			errs = append(errs, errors.New("auth: an SSH key or known_hosts is set but the url is http"))
		}
		if token && !isLoopback(ep.Host) {
			errs = append(errs, fmt.Errorf("auth: refusing to send a token over plain http to %s; use https", ep.Host))
		}
	case "ssh":
		if token {
			errs = append(errs, errors.New("auth: a token is set but the url is ssh; tokens go with https"))
		}
		if len(a.SSHKey) == 0 {
			errs = append(errs, errors.New("auth.sshKey: required for an ssh url"))
		}
		if len(a.KnownHosts) == 0 {
			errs = append(errs, errors.New("auth.knownHosts: required for an ssh url (host keys are always verified)"))
		}
	case "file":
		if token || ssh {
			errs = append(errs, errors.New("auth: credentials are set but the url is a local path"))
		}
	default:
		errs = append(errs, fmt.Errorf("url: scheme %q is not supported (want https, http, ssh or file)", ep.Protocol))
	}
	return errs
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
