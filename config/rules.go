package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// maxReleaseName is Helm's limit on release names.
const maxReleaseName = 53

const dnsLabelRule = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"

var (
	labelRE        = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	subdomainRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelNameRE    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)
	slackUserID    = regexp.MustCompile(`^[UW][A-Z0-9]{8,}$`)
	httpMethod     = regexp.MustCompile(`^[A-Z]+$`)
	scpLike        = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.+$`)
)

// emailAddress reports whether s is a bare e-mail address (local@domain),
// as a Slack profile holds it: no display name or angle brackets.
func emailAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// dnsLabel reports whether s is an RFC 1123 label, as Kubernetes requires of
// namespace names and ferry of pipeline and environment names.
func dnsLabel(s string) bool { return len(s) <= 63 && labelRE.MatchString(s) }

// dnsSubdomain reports whether s is an RFC 1123 subdomain (object names).
func dnsSubdomain(s string) bool { return len(s) <= 253 && subdomainRE.MatchString(s) }

// labelPair checks a Kubernetes label key ([prefix/]name) and value.
func labelPair(key, value string) error {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		prefix, name = "", key
	}
	if (hasPrefix && !dnsSubdomain(prefix)) || len(name) > 63 || !labelNameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid label key", key)
	}
	if len(value) > 63 || (value != "" && !labelNameRE.MatchString(value)) {
		return fmt.Errorf("%q is not a valid label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", value)
	}
	return nil
}

// repoPath checks a path inside the repository: relative and not leaving it.
func repoPath(p string) error {
	switch clean := path.Clean(p); {
	case strings.TrimSpace(p) == "":
		return fmt.Errorf("must not be empty")
	case path.IsAbs(p):
		return fmt.Errorf("%q is absolute; paths are relative to the repository root", p)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return fmt.Errorf("%q leaves the repository; paths are relative to the repository root", p)
	}
	return nil
}

// httpURL checks an http:// or https:// URL with a host.
func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}

// listenAddress checks a host:port to listen on (host may be empty).
func listenAddress(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("%q is not an address to listen on; use host:port or :port", s)
	}
	return nil
}
