package gitsource

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Header names of each provider. The generic provider's are ferry's own, for
// CI jobs and scripts that sign what they send.
const (
	headerGitHubSignature  = "X-Hub-Signature-256"
	headerGitHubEvent      = "X-GitHub-Event"
	headerGitLabToken      = "X-Gitlab-Token"
	headerGitLabEvent      = "X-Gitlab-Event"
	headerGiteaSignature   = "X-Gitea-Signature"
	headerGiteaEvent       = "X-Gitea-Event"
	headerGenericSignature = "X-Ferry-Signature-256"
	headerGenericEvent     = "X-Ferry-Event"
)

var providers = map[Provider]provider{
	ProviderGitHub: {
		verify: func(h http.Header, body, secret []byte) error {
			return verifyHMAC(h, headerGitHubSignature, "sha256=", body, secret)
		},
		event: func(h http.Header) string { return h.Get(headerGitHubEvent) },
	},
	ProviderGitea: {
		verify: func(h http.Header, body, secret []byte) error {
			return verifyHMAC(h, headerGiteaSignature, "", body, secret)
		},
		event: func(h http.Header) string { return h.Get(headerGiteaEvent) },
	},
	ProviderGitLab: {
		verify: verifyGitLabToken,
		event:  gitlabEvent,
	},
	ProviderGeneric: {
		verify: func(h http.Header, body, secret []byte) error {
			return verifyHMAC(h, headerGenericSignature, "sha256=", body, secret)
		},
		event: func(h http.Header) string {
			if e := h.Get(headerGenericEvent); e != "" {
				return e
			}
			return "push"
		},
		refOptional: true,
	},
}

// verifyHMAC checks a hex HMAC-SHA256 of body in header, after prefix.
func verifyHMAC(h http.Header, header, prefix string, body, secret []byte) error {
	got := h.Get(header)
	if got == "" {
		return fmt.Errorf("%w: header %s", errMissingSignature, header)
	}
	sig, ok := strings.CutPrefix(got, prefix)
	if !ok {
		return fmt.Errorf("%w: header %s must start with %q", errBadSignature, header, prefix)
	}
	want := hmac.New(sha256.New, secret)
	want.Write(body)
	decoded, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(decoded, want.Sum(nil)) {
		return fmt.Errorf("%w: header %s", errBadSignature, header)
	}
	return nil
}

// verifyGitLabToken compares GitLab's plain shared token in constant time.
func verifyGitLabToken(h http.Header, _, secret []byte) error {
	got := h.Get(headerGitLabToken)
	if got == "" {
		return fmt.Errorf("%w: header %s", errMissingSignature, headerGitLabToken)
	}
	if subtle.ConstantTimeCompare([]byte(got), secret) != 1 {
		return fmt.Errorf("%w: header %s", errBadSignature, headerGitLabToken)
	}
	return nil
}

// gitlabEvent maps GitLab's event names. GitLab has no ping: its "Test"
// button sends a real push; a tag push carries refs/tags/... and is ignored
// by the ref check like any other ref.
func gitlabEvent(h http.Header) string {
	switch e := h.Get(headerGitLabEvent); e {
	case "Push Hook", "Tag Push Hook":
		return "push"
	default:
		return e
	}
}
