package gitsource

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-gitops/ferry/internal/gitserver"
)

const hookSecret = "hook-secret-Zq9"

// delivery builds one webhook request the way the provider sends it.
type delivery struct {
	provider Provider
	event    string // provider's event header value; "" for none
	body     []byte
	sign     string // "valid", "wrong" or "none"
}

func (d delivery) request(t testing.TB, url string) *http.Request {
	t.Helper()
	req := must(http.NewRequest(http.MethodPost, url, bytes.NewReader(d.body))).get(t)
	req.Header.Set("Content-Type", "application/json")
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(d.body)
	sig := hex.EncodeToString(mac.Sum(nil))
	token := hookSecret
	if d.sign == "wrong" {
		sig = strings.Repeat("ab", 32)
		token = "not-the-secret"
	}
	var sigHeader, sigValue, eventHeader string
	switch d.provider {
	case ProviderGitHub:
		sigHeader, sigValue, eventHeader = headerGitHubSignature, "sha256="+sig, headerGitHubEvent
	case ProviderGitea:
		sigHeader, sigValue, eventHeader = headerGiteaSignature, sig, headerGiteaEvent
	case ProviderGitLab:
		sigHeader, sigValue, eventHeader = headerGitLabToken, token, headerGitLabEvent
	case ProviderGeneric:
		sigHeader, sigValue, eventHeader = headerGenericSignature, "sha256="+sig, headerGenericEvent
	}
	if d.sign != "none" {
		req.Header.Set(sigHeader, sigValue)
	}
	if d.event != "" {
		req.Header.Set(eventHeader, d.event)
	}
	return req
}

// payload is the provider's push payload from testdata with ref and after
// replaced (and GitHub's deleted flag set for a deletion).
func payload(t testing.TB, p Provider, ref, after string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(must(os.ReadFile("testdata/webhooks/"+string(p)+"-push.json")).get(t), &m); err != nil {
		t.Fatal(err)
	}
	m["ref"], m["after"] = ref, after
	if p == ProviderGitHub {
		m["deleted"] = strings.Trim(after, "0") == ""
	}
	return must(json.Marshal(m)).get(t)
}

func TestWebhookProviders(t *testing.T) {
	const zero = "0000000000000000000000000000000000000000"
	const claimed = "2222222222222222222222222222222222222222"
	pushEvent := map[Provider]string{ProviderGitHub: "push", ProviderGitea: "push", ProviderGitLab: "Push Hook", ProviderGeneric: "push"}
	tagEvent := map[Provider]string{ProviderGitHub: "push", ProviderGitea: "push", ProviderGitLab: "Tag Push Hook", ProviderGeneric: "push"}
	sigHeader := map[Provider]string{ProviderGitHub: headerGitHubSignature, ProviderGitea: headerGiteaSignature,
		ProviderGitLab: headerGitLabToken, ProviderGeneric: headerGenericSignature}

	type tc struct {
		name      string
		d         delivery
		status    int
		body      string
		nudges    int64
		logSubstr string
	}
	var cases []tc
	for _, p := range []Provider{ProviderGitHub, ProviderGitLab, ProviderGitea, ProviderGeneric} {
		push := payload(t, p, "refs/heads/main", claimed)
		var own []tc
		own = append(own,
			tc{name: "valid signature", d: delivery{p, pushEvent[p], push, "valid"}, status: 202,
				body: "accepted: push to refs/heads/main; reading the head from the server\n", nudges: 1},
			tc{name: "wrong signature", d: delivery{p, pushEvent[p], push, "wrong"}, status: 401,
				body: "signature does not match: header " + sigHeader[p] + "\n", logSubstr: "webhook refused"},
			tc{name: "no signature", d: delivery{p, pushEvent[p], push, "none"}, status: 401,
				body: "missing signature: header " + sigHeader[p] + "\n", logSubstr: "webhook refused"},
			tc{name: "oversize body", d: delivery{p, pushEvent[p], bytes.Repeat([]byte(" "), MaxWebhookBody+1), "valid"}, status: 413,
				body: "payload larger than 1048576 bytes\n", logSubstr: "body too large"},
			tc{name: "tag push", d: delivery{p, tagEvent[p], payload(t, p, "refs/tags/main", claimed), "valid"}, status: 200,
				body: "ignored: push to refs/tags/main, not refs/heads/main\n"},
			tc{name: "main-old push", d: delivery{p, pushEvent[p], payload(t, p, "refs/heads/main-old", claimed), "valid"}, status: 200,
				body: "ignored: push to refs/heads/main-old, not refs/heads/main\n"},
			tc{name: "branch deletion", d: delivery{p, pushEvent[p], payload(t, p, "refs/heads/main", zero), "valid"}, status: 200,
				body: "ignored: branch main deleted; keeping the last revision\n", logSubstr: "tracked branch deleted upstream"},
			tc{name: "signed body that is not JSON", d: delivery{p, pushEvent[p], []byte("{nope"), "valid"}, status: 400,
				body: "payload is not valid JSON: invalid character 'n' looking for beginning of object key string\n"},
		)
		if p == ProviderGitLab {
			// GitLab has no ping event; any other event is answered and ignored.
			own = append(own, tc{name: "non-push event", d: delivery{p, "Merge Request Hook", []byte(`{"object_kind":"merge_request"}`), "valid"},
				status: 200, body: "ignored: event \"Merge Request Hook\" is not a push\n"})
		} else {
			own = append(own,
				tc{name: "ping", d: delivery{p, "ping", must(os.ReadFile("testdata/webhooks/github-ping.json")).get(t), "valid"}, status: 200, body: "pong\n"},
				tc{name: "unsigned ping", d: delivery{p, "ping", []byte(`{}`), "none"}, status: 401,
					body: "missing signature: header " + sigHeader[p] + "\n"})
		}
		for _, c := range own {
			c.name = string(p) + "/" + c.name
			cases = append(cases, c)
		}
	}
	cases = append(cases,
		tc{name: "github/branch delete event", d: delivery{ProviderGitHub, "delete", must(os.ReadFile("testdata/webhooks/github-delete.json")).get(t), "valid"},
			status: 200, body: "ignored: branch main deleted; keeping the last revision\n", logSubstr: "tracked branch deleted upstream"},
		tc{name: "gitea/tag delete event", d: delivery{ProviderGitea, "delete", []byte(`{"ref":"main","ref_type":"tag"}`), "valid"},
			status: 200, body: "ignored: deletion of tag \"main\"\n"},
		tc{name: "github/push without ref", d: delivery{ProviderGitHub, "push", []byte(`{}`), "valid"}, status: 400, body: "payload names no ref\n"},
		tc{name: "generic/nudge without ref", d: delivery{ProviderGeneric, "", []byte(``), "valid"}, status: 202,
			body: "accepted: reading the head of refs/heads/main\n", nudges: 1},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var nudges atomic.Int64
			var logs bytes.Buffer
			h := must(NewWebhookHandler(WebhookOptions{Provider: c.d.provider, Secret: []byte(hookSecret), Branch: "main",
				Nudge: func() { nudges.Add(1) }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})).get(t)
			srv := httptest.NewServer(h)
			defer srv.Close()
			resp := must(http.DefaultClient.Do(c.d.request(t, srv.URL))).get(t)
			body := must(io.ReadAll(resp.Body)).get(t)
			resp.Body.Close()
			if resp.StatusCode != c.status || string(body) != c.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, c.status, c.body)
			}
			if got := nudges.Load(); got != c.nudges {
				t.Errorf("nudged %d times, want %d", got, c.nudges)
			}
			if c.logSubstr != "" && !strings.Contains(logs.String(), c.logSubstr) {
				t.Errorf("log lacks %q:\n%s", c.logSubstr, logs.String())
			}
			if strings.Contains(logs.String(), hookSecret) || strings.Contains(string(body), hookSecret) {
				t.Errorf("secret leaked: log %q body %q", logs.String(), body)
			}
		})
	}
}

func TestWebhookRejectsOtherMethods(t *testing.T) {
	h := must(NewWebhookHandler(WebhookOptions{Provider: ProviderGitHub, Secret: []byte(hookSecret), Branch: "main", Nudge: func() {}})).get(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hooks/git/p", nil))
	if rec.Code != 405 || rec.Body.String() != "method not allowed: webhooks are POSTed\n" || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %q Allow=%q", rec.Code, rec.Body.String(), rec.Header().Get("Allow"))
	}
}

func TestWebhookOptionsRejected(t *testing.T) {
	_, err := NewWebhookHandler(WebhookOptions{Provider: "bitbucket"})
	want := "webhook provider \"bitbucket\": want github, gitlab, gitea or generic\n" +
		"webhook secret: required\nwebhook branch: required\nwebhook nudge: required"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %q", err, want)
	}
}

// TestWebhookNudgesWatchToServerHead checks the whole path: a verified push
// webhook makes the watcher read the head at once, and the revision emitted is
// the server's head, not the one the payload claims.
func TestWebhookNudgesWatchToServerHead(t *testing.T) {
	srv, repo := newServer(t, gitserver.HTTPOptions{})
	first := must(repo.Head("main")).get(t)
	src := newSource(t, Options{URL: srv.HTTPURL("deploy")})
	updates := watch(t, src, first)
	h := must(NewWebhookHandler(WebhookOptions{Provider: ProviderGitHub, Secret: []byte(hookSecret), Branch: "main", Nudge: src.Nudge})).get(t)
	hooks := httptest.NewServer(h)
	defer hooks.Close()

	head := must(repo.Commit("dev: new tag", gitserver.WithFile("chart/values-dev.yaml", "image:\n  tag: \"1.9.0-dev\"\n"))).get(t)
	claimed := "2222222222222222222222222222222222222222"
	resp := must(http.DefaultClient.Do(delivery{ProviderGitHub, "push", payload(t, ProviderGitHub, "refs/heads/main", claimed), "valid"}.request(t, hooks.URL))).get(t)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	u := next(t, updates)
	if u.Err != nil || u.Revision.SHA != head || u.Revision.Subject != "dev: new tag" {
		t.Fatalf("update = %+v, want head %s", u, head)
	}
	_, rev := snapshot(t, src, head, first)
	if len(rev.ChangedFiles) != 1 || rev.ChangedFiles[0] != "chart/values-dev.yaml" {
		t.Errorf("changed files = %q", rev.ChangedFiles)
	}
}
