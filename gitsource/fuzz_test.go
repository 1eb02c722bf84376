package gitsource

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Signing modes of FuzzWebhook: how the delivery's signature header is made.
const (
	fuzzSignValid    = iota // correct signature (or token) over the body sent
	fuzzSignWrong           // right format, wrong secret
	fuzzSignNone            // no signature header
	fuzzSignRaw             // the header is the fuzzed string
	fuzzSignTampered        // correct signature over the body, then a byte appended to what is sent
	fuzzSignSHA1            // the legacy GitHub sha1=… HMAC, in both the legacy and the provider's header
	fuzzSignModes
)

var fuzzProviders = []Provider{ProviderGitHub, ProviderGitLab, ProviderGitea, ProviderGeneric}

// fuzzSigHeader is the header each provider's signature (or token) travels in.
func fuzzSigHeader(p Provider) string {
	switch p {
	case ProviderGitHub:
		return headerGitHubSignature
	case ProviderGitea:
		return headerGiteaSignature
	case ProviderGitLab:
		return headerGitLabToken
	default:
		return headerGenericSignature
	}
}

// FuzzWebhook drives NewWebhookHandler's ServeHTTP, the one entry point that
// verifies and parses Git webhooks, for all four providers. It must never
// panic; a delivery whose signature does not verify (checked here
// independently of the handler) is answered 401 and never nudges; an
// oversize body is answered 413 whatever its signature; and a delivery is
// accepted (202, one nudge) exactly when it is a verified push whose ref is
// the tracked branch and which does not delete it (or, for the generic
// provider, names no ref at all).
func FuzzWebhook(f *testing.F) {
	const zero = "0000000000000000000000000000000000000000"
	const claimed = "2222222222222222222222222222222222222222"
	gh, gl, gt, gen := uint8(0), uint8(1), uint8(2), uint8(3)
	push := payload(f, ProviderGitHub, "refs/heads/main", claimed)

	// The bad inputs of issue 15 that fit a webhook, GitHub first.
	f.Add(gh, "main", "push", push, uint8(fuzzSignValid), "", false)    // valid signed push
	f.Add(gh, "main", "push", push, uint8(fuzzSignWrong), "", false)    // bad signature
	f.Add(gh, "main", "push", push, uint8(fuzzSignNone), "", false)     // missing signature
	f.Add(gh, "main", "push", push, uint8(fuzzSignSHA1), "", false)     // sha1 signature
	f.Add(gh, "main", "push", push, uint8(fuzzSignTampered), "", false) // body changed after signing
	f.Add(gh, "main", "push", []byte("{nope"), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", payload(f, ProviderGitHub, "refs/heads/main", zero), uint8(fuzzSignValid), "", false) // branch deleted
	f.Add(gh, "main", "push", push, uint8(fuzzSignValid), "", true)                                                 // oversize, signed
	f.Add(gh, "main", "push", push, uint8(fuzzSignNone), "", true)                                                  // oversize, unsigned
	f.Add(gh, "main", "push", push, uint8(fuzzSignRaw), "sha256=", false)
	f.Add(gh, "main", "push", push, uint8(fuzzSignRaw), "sha256="+strings.Repeat("zz", 32), false)
	f.Add(gh, "main", "push", push, uint8(fuzzSignRaw), "SHA256="+strings.Repeat("ab", 32), false)
	f.Add(gh, "main", "delete", []byte(`{"ref":"main","ref_type":"branch"}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "ping", []byte(`{"zen":"Design for failure.","hook_id":1}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", payload(f, ProviderGitHub, "refs/heads/main-old", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", payload(f, ProviderGitHub, "refs/tags/main", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", []byte(`{"ref":"refs/heads/main","deleted":true,"after":"`+claimed+`"}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", []byte(`{"REF":"refs/heads/main","after":"`+claimed+`"}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", []byte(`{"ref":"refs/heads/x","ref":"refs/heads/main"}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", []byte(`{"ref":5}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "main", "push", []byte(`{}`), uint8(fuzzSignValid), "", false)
	f.Add(gh, "release/1.x", "push", []byte(`{"ref":"refs/heads/release/1.x","after":"`+claimed+`"}`), uint8(fuzzSignValid), "", false)
	// The other providers.
	f.Add(gl, "main", "Push Hook", payload(f, ProviderGitLab, "refs/heads/main", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gl, "main", "Push Hook", payload(f, ProviderGitLab, "refs/heads/main", claimed), uint8(fuzzSignWrong), "", false)
	f.Add(gl, "main", "Push Hook", payload(f, ProviderGitLab, "refs/heads/main", claimed), uint8(fuzzSignRaw), hookSecret+" ", false)
	f.Add(gl, "main", "Tag Push Hook", payload(f, ProviderGitLab, "refs/tags/v1", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gl, "main", "Push Hook", payload(f, ProviderGitLab, "refs/heads/main", zero), uint8(fuzzSignValid), "", false)
	f.Add(gt, "main", "push", payload(f, ProviderGitea, "refs/heads/main", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gt, "main", "push", payload(f, ProviderGitea, "refs/heads/main", claimed), uint8(fuzzSignTampered), "", false)
	f.Add(gt, "main", "delete", []byte(`{"ref":"main","ref_type":"tag"}`), uint8(fuzzSignValid), "", false)
	f.Add(gen, "main", "", []byte{}, uint8(fuzzSignValid), "", false)
	f.Add(gen, "main", "", []byte{}, uint8(fuzzSignNone), "", false)
	f.Add(gen, "main", "push", payload(f, ProviderGeneric, "refs/heads/main", claimed), uint8(fuzzSignValid), "", false)
	f.Add(gen, "main", "", []byte("null"), uint8(fuzzSignValid), "", false)

	f.Fuzz(func(t *testing.T, prov uint8, branch, event string, body []byte, mode uint8, rawSig string, oversize bool) {
		p := fuzzProviders[int(prov)%len(fuzzProviders)]
		if branch == "" {
			branch = "main"
		}
		if pad := MaxWebhookBody + 1 - len(body); oversize && pad > 0 {
			// Still the same JSON document: only whitespace is added.
			body = append(bytes.Clone(body), bytes.Repeat([]byte(" "), pad)...)
		}
		req := fuzzDelivery(t, p, event, body, mode%fuzzSignModes, rawSig)
		sent := must(io.ReadAll(req.Body)).get(t)
		req.Body = io.NopCloser(bytes.NewReader(sent))
		verified := fuzzVerifies(p, req.Header, sent)

		var nudges int
		h := must(NewWebhookHandler(WebhookOptions{Provider: p, Secret: []byte(hookSecret), Branch: branch,
			Nudge: func() { nudges++ }})).get(t)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		status, answer := rec.Code, rec.Body.String()

		switch status {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("unexpected status %d %q", status, answer)
		}
		if (status == http.StatusAccepted) != (nudges == 1) || nudges > 1 {
			t.Fatalf("status %d %q with %d nudges", status, answer, nudges)
		}
		if strings.Contains(answer, hookSecret) {
			t.Fatalf("answer leaks the secret: %q", answer)
		}
		switch {
		case len(sent) > MaxWebhookBody:
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body answered %d %q, want 413", len(sent), status, answer)
			}
			return
		case !verified:
			if status != http.StatusUnauthorized {
				t.Fatalf("unverified delivery answered %d %q, want 401", status, answer)
			}
			return
		case status == http.StatusUnauthorized:
			t.Fatalf("verified delivery refused: %q", answer)
		}

		// The delivery verified: check the outcome against the payload.
		tracked := "refs/heads/" + branch
		var pp struct {
			Ref     string `json:"ref"`
			RefType string `json:"ref_type"`
			After   string `json:"after"`
			Deleted bool   `json:"deleted"`
		}
		isJSON := len(sent) == 0 || json.Unmarshal(sent, &pp) == nil
		wantAccept := false
		if fuzzEvent(p, req.Header) == "push" && isJSON {
			switch {
			case pp.Ref == "":
				wantAccept = p == ProviderGeneric
			case pp.Ref == tracked:
				wantAccept = !pp.Deleted && (pp.After == "" || strings.Trim(pp.After, "0") != "")
			}
		}
		if wantAccept != (status == http.StatusAccepted) {
			t.Fatalf("event %q ref %q after %q deleted %v (JSON %v) on branch %q: answered %d %q",
				fuzzEvent(p, req.Header), pp.Ref, pp.After, pp.Deleted, isJSON, branch, status, answer)
		}
		if wantAccept && !strings.Contains(answer, tracked) {
			t.Fatalf("accepted answer %q does not name %s", answer, tracked)
		}
		if status == http.StatusAccepted && pp.Ref != "" && pp.Ref != tracked {
			t.Fatalf("push to %q accepted for %s", pp.Ref, tracked)
		}
	})
}

// fuzzDelivery builds the request with the test's delivery helper and then
// applies the signing modes it does not know.
func fuzzDelivery(t *testing.T, p Provider, event string, body []byte, mode uint8, rawSig string) *http.Request {
	const target = "http://ferry.test/hooks/git/web"
	d := delivery{provider: p, event: event, body: body, sign: "none"}
	switch mode {
	case fuzzSignValid, fuzzSignTampered:
		d.sign = "valid"
	case fuzzSignWrong:
		d.sign = "wrong"
	}
	req := d.request(t, target)
	switch mode {
	case fuzzSignRaw:
		req.Header.Set(fuzzSigHeader(p), rawSig)
	case fuzzSignTampered:
		req.Body = io.NopCloser(bytes.NewReader(append(bytes.Clone(body), ' ')))
	case fuzzSignSHA1:
		mac := hmac.New(sha1.New, []byte(hookSecret))
		mac.Write(body)
		sig := "sha1=" + hex.EncodeToString(mac.Sum(nil))
		req.Header.Set("X-Hub-Signature", sig)
		req.Header.Set(fuzzSigHeader(p), sig)
	}
	return req
}

// fuzzVerifies says, independently of the handler, whether the headers
// carry a valid signature of body: HMAC-SHA256 under hookSecret in hex
// (either case) after the provider's prefix, or GitLab's exact token.
func fuzzVerifies(p Provider, h http.Header, body []byte) bool {
	got := h.Get(fuzzSigHeader(p))
	if p == ProviderGitLab {
		return got == hookSecret
	}
	prefix := "sha256="
	if p == ProviderGitea {
		prefix = ""
	}
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(body)
	return strings.HasPrefix(got, prefix) && strings.ToLower(got[len(prefix):]) == hex.EncodeToString(mac.Sum(nil))
}

// fuzzEvent is the event a delivery names, normalised as the provider
// documents it: GitLab's push hooks are pushes, and a generic delivery
// without an event header is a push.
func fuzzEvent(p Provider, h http.Header) string {
	switch p {
	case ProviderGitHub:
		return h.Get(headerGitHubEvent)
	case ProviderGitea:
		return h.Get(headerGiteaEvent)
	case ProviderGitLab:
		if e := h.Get(headerGitLabEvent); e == "Push Hook" || e == "Tag Push Hook" {
			return "push"
		}
		return h.Get(headerGitLabEvent)
	default:
		if e := h.Get(headerGenericEvent); e != "" {
			return e
		}
		return "push"
	}
}
