package badinput

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/gitsource"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/slackserver"
	"github.com/ferry-gitops/ferry/server/api"
)

// badInput is one row of the table: an input ferry must refuse (or, for the
// few marked changes, accept in a defined way), the message the user sees,
// and what may change.
type badInput struct {
	name string
	// send delivers the input and returns the message the user sees.
	send func(t *testing.T, w *world) string
	want string
	// changes lists the snapshot keys the input may change (a failed
	// apply's Helm revisions, an accepted input's revision); check then
	// asserts what they became. Every other key must stay as it was.
	changes []string
	check   func(t *testing.T, w *world, before, after snapshot)
}

// TestBadInputIsRefusedAndChangesNothing runs the table against one world.
// Cases run in order on purpose: each one's "nothing changed" is measured
// against the whole world, so no other input may be in flight.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	w := newWorld(t, knownSecrets)
	cases := badInputs(w)
	if len(cases) < 40 {
		t.Errorf("the table has %d cases, want at least 40", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := w.t
			w.t = t
			defer func() { w.t = parent }()
			before := w.snapshot()
			got := c.send(t, w)
			if got != c.want {
				t.Errorf("message:\n got %q\nwant %q", got, c.want)
			}
			after := w.snapshot()
			var unexpected []string
			for _, d := range before.diff(after) {
				key, _, _ := strings.Cut(d, ": ")
				if !containsKey(c.changes, key) {
					unexpected = append(unexpected, d)
				}
			}
			if len(unexpected) > 0 {
				t.Errorf("the input changed:\n%s", strings.Join(unexpected, "\n"))
			}
			if c.check != nil {
				c.check(t, w, before, after)
			}
		})
	}
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// badInputs is the table, grouped by the way the input arrives.
func badInputs(w *world) []badInput {
	var cases []badInput
	cases = append(cases, configInputs()...)
	cases = append(cases, renderInputs(w)...)
	cases = append(cases, acceptedInputs(w)...)
	cases = append(cases, branchInputs(w)...)
	cases = append(cases, webhookInputs(w)...)
	cases = append(cases, slackInputs(w)...)
	cases = append(cases, apiInputs(w)...)
	return cases
}

// --- ferry.yaml ---

// configInputs are ferry.yaml files that must not load. A config that does
// not load never reaches a running daemon, which keeps its own.
func configInputs() []badInput {
	head := "pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git}\n    chart: chart\n"
	parse := func(text string) func(*testing.T, *world) string {
		return func(t *testing.T, _ *world) string {
			c, err := config.Parse("ferry.yaml", []byte(text), helmOptions)
			if c != nil || err == nil {
				t.Fatalf("Parse accepted:\n%s", text)
			}
			return err.Error()
		}
	}
	return []badInput{
		{name: "ferry.yaml with an unknown key", send: parse(head + "    enviroments:\n      - name: dev\n"),
			want: "ferry.yaml:2: pipelines[0].environments: missing required key \"environments\"\n" +
				"ferry.yaml:5: pipelines[0].enviroments: unknown key \"enviroments\"; did you mean \"environments\"?"},
		{name: "ferry.yaml with a cycle of from", send: parse(head + "    environments:\n      - name: dev\n      - {name: a, from: b}\n      - {name: b, from: a}\n"),
			want: ""},
		{name: "ferry.yaml with duplicate environment names", send: parse(head + "    environments:\n      - name: dev\n      - {name: dev, namespace: other}\n"),
			want: ""},
		{name: "ferry.yaml with duplicate pipeline names", send: parse(head + "    environments: [{name: dev}]\n" + head[len("pipelines:\n"):] + "    environments: [{name: dev, namespace: two}]\n"),
			want: ""},
		{name: "ferry.yaml values path climbing out with ..", send: parse(head + "    environments:\n      - {name: dev, values: [envs/../../secrets.yaml]}\n"),
			want: ""},
		{name: "ferry.yaml absolute values path", send: parse(head + "    environments:\n      - {name: dev, values: [/etc/ferry/values.yaml]}\n"),
			want: ""},
		{name: "ferry.yaml chart path climbing out with ..", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git}\n    chart: ../charts/web\n    environments: [{name: dev}]\n"),
			want: ""},
		{name: "ferry.yaml with a token pasted inline", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git, auth: {token: ghp_pastedTokenValue0123456789}}\n    chart: chart\n    environments: [{name: dev}]\n"),
			want: ""},
		{name: "ferry.yaml that is not YAML", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git\n    chart: chart\n"),
			want: ""},
	}
}

// --- commits whose render fails ---

// renderInputs are commits on pipeline render whose content cannot be
// rendered or applied. Each is a child of the base commit, so each breaks
// exactly one thing; dev must end the promotion Failed (RolledBack for an
// apply the API server refused) and keep running the base commit.
func renderInputs(w *world) []badInput {
	commit := func(files map[string]string, opts ...gitserver.CommitOption) func(*testing.T, *world) string {
		return func(t *testing.T, w *world) string {
			sha := w.commit(pRender, t.Name(), w.base[pRender], files, opts...)
			p := w.waitEnded(pRender, "dev", sha)
			if p.Phase != ferry.PhaseFailed && p.Phase != ferry.PhaseRolledBack {
				t.Errorf("promotion of the bad commit ended %s, want Failed or RolledBack", p.Phase)
			}
			return p.Reason
		}
	}
	template := func(name, text string) map[string]string {
		return map[string]string{"chart/templates/" + name: text}
	}
	return []badInput{
		{name: "malformed YAML in a values file", send: commit(map[string]string{
			"values-dev.yaml": "greeting: hello dev\nresources:\n  cpu: 100m\n memory: 1Gi\n"}), want: ""},
		{name: "values type that breaks values.schema.json", send: commit(map[string]string{
			"values-dev.yaml": "greeting: hello dev\nreplicas: three\n"}), want: ""},
		{name: "template error", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ .Values.database.host }}\n")), want: ""},
		{name: "template parse error", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ .Values.greeting \n")), want: ""},
		{name: "required value missing", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ required \"set database.host in values-dev.yaml\" .Values.databaseHost }}\n")), want: ""},
		{name: "chart renders invalid Kubernetes YAML", send: commit(template("broken.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-broken\ndata:\n  a: b\n c: d\n")), want: ""},
		{name: "chart renders an object without kind", send: commit(template("nokind.yaml",
			"apiVersion: v1\nmetadata:\n  name: {{ .Release.Name }}-nokind\ndata:\n  a: b\n")), want: ""},
		{name: "object the API server rejects", send: commit(map[string]string{
			"values-dev.yaml":              "greeting: hello changed\n",
			"chart/templates/invalid.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}_Invalid\ndata:\n  a: b\n"}),
			want:    "",
			changes: []string{"render/dev helm revisions"},
			check: func(t *testing.T, w *world, before, after snapshot) {
				if b, a := before["render/dev helm revisions"], after["render/dev helm revisions"]; a == b {
					t.Errorf("Helm revisions stayed %s; want the failed upgrade and the rollback recorded", b)
				}
			}},
		{name: "values file missing from the commit", send: commit(nil, gitserver.WithoutFile("values-dev.yaml")), want: ""},
		{name: "values path that is a symlink climbing out of the repo", send: commit(nil,
			gitserver.WithSymlink("values-dev.yaml", "../../../../etc/passwd")), want: ""},
		{name: "values path that is a symlink to an absolute path", send: commit(nil,
			gitserver.WithSymlink("values-dev.yaml", "/etc/passwd")), want: ""},
		{name: "chart template that is a symlink out of the repo", send: commit(nil,
			gitserver.WithSymlink("chart/templates/leak.yaml", "../../../etc/passwd")), want: ""},
		{name: "Chart.yaml missing", send: commit(nil, gitserver.WithoutFile("chart/Chart.yaml")), want: ""},
	}
}

// --- odd but valid commits ---

// acceptedInputs are commits on pipeline accept that look like bad input
// but are valid: each must reach dev, with a warning where Helm's output is
// surprising.
func acceptedInputs(w *world) []badInput {
	changes := []string{"accept/dev current", "accept/dev live", "accept/dev helm revisions"}
	return []badInput{
		{name: "values with integers of a million and more, and unicode keys", send: func(t *testing.T, w *world) string {
			sha := w.commit(pAccept, "big numbers", "", map[string]string{
				"values-dev.yaml": "greeting: hello dev\nlimits:\n  größe: 1048576\n名前: フェリー\nmaxBodyBytes: 2097152\nquoted: \"3000000\"\n",
				"chart/templates/extra.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  size: {{ index .Values.limits "größe" | quote }}
  name: {{ index .Values "名前" | quote }}
  maxBody: {{ .Values.maxBodyBytes | quote }}
  quoted: {{ .Values.quoted | quote }}
`})
			w.waitPhase(pAccept, "dev", sha, ferry.PhaseSucceeded)
			return w.warnings(t, sha)
		}, want: "", changes: changes},
		{name: "a commit of 10,000 files", send: func(t *testing.T, w *world) string {
			files := map[string]string{"values-dev.yaml": "greeting: hello ten thousand\n"}
			for i := range 10000 {
				files[fmt.Sprintf("docs/generated/page-%05d.md", i)] = fmt.Sprintf("# page %d\n", i)
			}
			sha := w.commit(pAccept, "ten thousand files", "", files)
			p := w.waitPhase(pAccept, "dev", sha, ferry.PhaseSucceeded)
			return fmt.Sprintf("%d changed files", len(p.Revision.ChangedFiles))
		}, want: "", changes: changes},
	}
}

// warnings returns the warnings chat was told for revision sha, as the
// thread shows them.
func (w *world) warnings(t *testing.T, sha string) string {
	t.Helper()
	var got string
	eventually(t, 30*time.Second, "warnings in the Slack thread of "+short(sha), func() (bool, string) {
		for _, m := range w.slack.Messages(slackserver.DefaultChannel) {
			if !strings.Contains(slackserver.BlockText(m), short(sha)) {
				continue
			}
			for _, r := range w.slack.Replies(slackserver.DefaultChannel, m.TS) {
				text := slackserver.BlockText(r)
				if _, after, ok := strings.Cut(text, "⚠️ warnings"); ok {
					got = strings.Trim(strings.TrimSpace(after), "`\n")
					return true, ""
				}
			}
		}
		return false, "no warnings reply"
	})
	return got
}

// --- the tracked branch ---

// branchInputs delete the tracked branch and force-push it to an older
// commit, on pipeline branch.
func branchInputs(w *world) []badInput {
	return []badInput{
		{name: "push that deletes the tracked branch", send: func(t *testing.T, w *world) string {
			repo := w.repos[pBranch]
			if err := repo.DeleteBranch("main"); err != nil {
				t.Fatal(err)
			}
			mark := len(w.logs.String())
			var msg string
			eventually(t, 30*time.Second, "the deleted branch to be reported", func() (bool, string) {
				for _, line := range strings.Split(w.logs.String()[mark:], "\n") {
					var rec struct {
						Msg, Pipeline, Err string
					}
					if json.Unmarshal([]byte(line), &rec) == nil && rec.Pipeline == pBranch && rec.Msg == "reading the branch head failed" {
						msg = rec.Err
						return true, ""
					}
				}
				return false, "no log record"
			})
			time.Sleep(time.Second) // several polls see the branch missing
			if err := repo.SetBranch("main", w.base[pBranch]); err != nil {
				t.Fatal(err)
			}
			return strings.ReplaceAll(msg, w.git.HTTPURL(pBranch), "URL")
		}, want: ""},
		{name: "force-push of the branch to an older commit", send: func(t *testing.T, w *world) string {
			newer := w.commit(pBranch, "newer", "", map[string]string{"values-dev.yaml": "greeting: hello newer\n"})
			w.waitPhase(pBranch, "dev", newer, ferry.PhaseSucceeded)
			if err := w.repos[pBranch].SetBranch("main", w.base[pBranch]); err != nil {
				t.Fatal(err)
			}
			back := w.waitPhase(pBranch, "dev", w.base[pBranch], ferry.PhaseSucceeded)
			if back.Revision.SHA != w.base[pBranch] {
				t.Errorf("dev runs %s", back.Revision.Short())
			}
			return back.Reason
		}, want: "", changes: []string{"branch/dev helm revisions"},
			check: func(t *testing.T, w *world, before, after snapshot) {
				if after["branch/dev current"] != short(w.base[pBranch]) || after["branch/dev live"] != before["branch/dev live"] {
					t.Errorf("after the force-push dev runs %s with %s; want the older %s with %s",
						after["branch/dev current"], after["branch/dev live"], short(w.base[pBranch]), before["branch/dev live"])
				}
			}},
	}
}

// --- Git webhooks ---

// githubSignature signs body as GitHub does.
func githubSignature(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookInputs are deliveries to /hooks/git/{pipeline} that must not nudge.
func webhookInputs(w *world) []badInput {
	push := `{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `"}`
	deliver := func(method, pipeline, body string, header map[string]string) func(*testing.T, *world) string {
		return func(t *testing.T, w *world) string {
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			for k, v := range header {
				h.Set(k, v)
			}
			status, text := w.do(request{method: method, path: "/hooks/git/" + pipeline, body: body, header: h})
			return fmt.Sprintf("%d %s", status, strings.TrimSpace(text))
		}
	}
	signed := func(body string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature(w.secrets.webhook, body)}
	}
	big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", gitsource.MaxWebhookBody) + `"}`
	deleted := `{"ref":"refs/heads/main","after":"` + strings.Repeat("0", 40) + `","deleted":true}`
	return []badInput{
		{name: "git webhook without a signature", send: deliver("POST", pGate, push, map[string]string{"X-GitHub-Event": "push"}), want: ""},
		{name: "git webhook signed with another secret", send: deliver("POST", pGate, push,
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature("not-the-secret", push)}), want: ""},
		{name: "git webhook whose body was changed after signing", send: deliver("POST", pGate, push+" ",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature(w.secrets.webhook, push)}), want: ""},
		{name: "git webhook with a SHA-1 signature", send: deliver("POST", pGate, push,
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567",
				"X-Hub-Signature-256": "sha1=0123456789abcdef0123456789abcdef01234567"}), want: ""},
		{name: "git webhook with an oversize body", send: deliver("POST", pGate, big, signed(big)), want: ""},
		{name: "git webhook that is signed but not JSON", send: deliver("POST", pGate, "ref=main", signed("ref=main")), want: ""},
		{name: "git webhook for an unknown pipeline", send: deliver("POST", "nope", push, signed(push)), want: ""},
		{name: "git webhook for a pipeline without a webhook", send: deliver("POST", pRender, push, signed(push)), want: ""},
		{name: "git webhook by GET", send: deliver("GET", pGate, "", nil), want: ""},
		{name: "git webhook of a push deleting the branch", send: deliver("POST", pGate, deleted, signed(deleted)), want: ""},
	}
}

// --- Slack interactions ---

// slackInputs are interactions with ferry's Approve button on gate's prod,
// which waits for alice's approval of the base commit.
func slackInputs(w *world) []badInput {
	value := func(rev string) string {
		b, _ := json.Marshal(map[string]string{"pipeline": pGate, "environment": "prod", "revision": rev})
		return string(b)
	}
	// post sends a click, signed with secret at ts, and returns the status
	// with the body; headers may be dropped by passing an empty secret.
	post := func(t *testing.T, w *world, payload []byte, secret string, ts time.Time) (int, string) {
		body := url.Values{"payload": {string(payload)}}.Encode()
		h := http.Header{}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		if secret != "" {
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
			h.Set("X-Slack-Signature", slackserver.Sign(secret, ts, []byte(body)))
		}
		status, text := w.do(request{method: "POST", path: "/slack/interactions", body: body, header: h})
		return status, strings.TrimSpace(text)
	}
	click := func(user, action, val, secret string, ts time.Time) func(*testing.T, *world) string {
		return func(t *testing.T, w *world) string {
			respURL := w.slack.ResponseURL()
			payload, err := slackserver.BlockActionsPayload(slackserver.Click{UserID: user, UserName: user, ActionID: action,
				Value: val, Channel: slackserver.DefaultChannel, MessageTS: "1700000000.000100", ResponseURL: respURL})
			if err != nil {
				t.Fatal(err)
			}
			status, text := post(t, w, payload, secret, ts)
			if status != http.StatusOK {
				return fmt.Sprintf("%d %s", status, text)
			}
			var answer string
			eventually(t, 20*time.Second, "the answer to the click", func() (bool, string) {
				for _, r := range w.slack.Responses() {
					if r.URL == respURL {
						answer = r.Text
						return true, ""
					}
				}
				return false, ""
			})
			return answer
		}
	}
	now := time.Now
	base := w.base[pGate]
	return []badInput{
		{name: "slack click with a bad signature", send: click(slackAlice, "ferry_approve", value(base), "not-the-signing-secret", now()), want: ""},
		{name: "slack click without a signature", send: click(slackAlice, "ferry_approve", value(base), "", now()), want: ""},
		{name: "slack click with a timestamp older than 5 minutes", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(base), w.secrets.signing, time.Now().Add(-5*time.Minute-10*time.Second))(t, w)
		}, want: ""},
		{name: "slack click with a timestamp in the future", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(base), w.secrets.signing, time.Now().Add(6*time.Minute))(t, w)
		}, want: ""},
		{name: "slack click from a user not in chat.users", send: func(t *testing.T, w *world) string {
			return click(slackNobody, "ferry_approve", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: ""},
		{name: "slack approve by a non-approver", send: func(t *testing.T, w *world) string {
			return click(slackBob, "ferry_approve", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: ""},
		{name: "slack reject by a non-approver", send: func(t *testing.T, w *world) string {
			return click(slackBob, "ferry_reject", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: ""},
		{name: "slack approve of a revision that is not waiting", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(strings.Repeat("b", 40)), w.secrets.signing, time.Now())(t, w)
		}, want: ""},
		{name: "slack button value naming no revision", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", `{"pipeline":"gate","environment":"prod"}`, w.secrets.signing, time.Now())(t, w)
		}, want: ""},
		{name: "slack interaction with an oversize body", send: func(t *testing.T, w *world) string {
			status, text := post(t, w, []byte(strings.Repeat("x", 1<<20)), w.secrets.signing, time.Now())
			return fmt.Sprintf("%d %s", status, text)
		}, want: ""},
	}
}

// --- the API ---

// apiInputs are API calls on gate's environments that must be refused.
func apiInputs(w *world) []badInput {
	const prod = api.Prefix + "/pipelines/gate/environments/prod"
	base := w.base[pGate]
	call := func(path, token, body string) func(*testing.T, *world) string {
		return func(t *testing.T, w *world) string {
			status, msg := w.api("POST", path, token, body)
			return fmt.Sprintf("%d %s", status, msg)
		}
	}
	rev := `{"revision":"` + base + `"}`
	alice, bob := w.secrets.aliceToken, w.secrets.bobToken
	return []badInput{
		{name: "API approve without a token", send: call(prod+"/approve", "", rev), want: ""},
		{name: "API approve with a wrong token", send: call(prod+"/approve", alice+"x", rev), want: ""},
		{name: "API approve with a non-approver's token", send: call(prod+"/approve", bob, rev), want: ""},
		{name: "API approve with a token in another scheme", send: func(t *testing.T, w *world) string {
			h := http.Header{}
			h.Set("Authorization", "Basic "+alice)
			status, text := w.do(request{method: "POST", path: prod + "/approve", body: rev, header: h})
			return fmt.Sprintf("%d %s", status, strings.TrimSpace(text))
		}, want: ""},
		{name: "API approve of a revision that is not waiting", send: call(prod+"/approve", alice, `{"revision":"`+strings.Repeat("c", 40)+`"}`), want: ""},
		{name: "API approve of a short revision that is not waiting", send: call(prod+"/approve", alice, `{"revision":"cccc"}`), want: ""},
		{name: "API approve of something that is not a SHA", send: call(prod+"/approve", alice, `{"revision":"HEAD~1"}`), want: ""},
		{name: "API approve naming the actor in the body", send: call(prod+"/approve", bob, `{"revision":"`+base+`","actor":"alice"}`), want: ""},
		{name: "API reject without a reason", send: call(prod+"/reject", alice, rev), want: ""},
		{name: "API approve with an oversize body", send: call(prod+"/approve", alice, `{"revision":"`+base+`","via":"`+strings.Repeat("x", api.MaxRequestBody)+`"}`), want: ""},
		{name: "API promote of a revision that has not passed upstream", send: call(prod+"/promote", alice, `{"revision":"`+strings.Repeat("d", 40)+`"}`), want: ""},
		{name: "API promote into the environment that follows the branch", send: call(api.Prefix+"/pipelines/gate/environments/dev/promote", alice, rev), want: ""},
		{name: "API approve in an unknown environment", send: call(api.Prefix+"/pipelines/gate/environments/qa/approve", alice, rev), want: ""},
		{name: "API pause without a token", send: call(prod+"/pause", "", ""), want: ""},
	}
}
