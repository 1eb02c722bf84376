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
	var answers []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := w.t
			w.t = t
			defer func() { w.t = parent }()
			before := w.snapshot()
			answer := c.send(t, w)
			answers = append(answers, answer)
			got := w.withoutBaseSHAs(answer)
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
	t.Run("no secret in any output", func(t *testing.T) { noSecretAnywhere(t, w, answers) })
}

// noSecretAnywhere changes the Secret's data through a commit, so that a
// diff of it is shown, then searches every output of the run for every
// secret value: ferry's log, each Slack call, message, thread reply and
// click answer, every API read, the metrics and the answers the table's
// inputs got.
func noSecretAnywhere(t *testing.T, w *world, answers []string) {
	parent := w.t
	w.t = t
	defer func() { w.t = parent }()
	const rotated = "r0tated-db-pa55-93b1e07c5d"
	sha := w.commit(pAccept, "rotate the database password", "", map[string]string{"chart/values.yaml": "greeting: hello\nreplicas: 1\npassword: " + rotated + "\n"})
	p := w.waitPhase(pAccept, "dev", sha, ferry.PhaseSucceeded)
	if p.HelmRevision == 0 {
		t.Fatalf("the password change applied nothing: %s", p.Reason)
	}
	var diff string
	eventually(t, 30*time.Second, "the changes reply of "+short(sha), func() (bool, string) {
		var seen []string
		for _, m := range w.slack.Messages(slackserver.DefaultChannel) {
			if strings.Contains(slackserver.BlockText(m), short(sha)) {
				for _, r := range w.slack.Replies(slackserver.DefaultChannel, m.TS) {
					text := slackserver.BlockText(r)
					if strings.Contains(text, "Secret") {
						diff = text
						return true, ""
					}
					seen = append(seen, text)
				}
			}
		}
		return false, "no reply naming the Secret among:\n" + strings.Join(seen, "\n---\n")
	})

	outputs := map[string]string{"ferry's log": w.logs.String(), "the Secret's diff in chat": diff}
	for i, a := range answers {
		outputs[fmt.Sprintf("answer %d of the table", i+1)] = a
	}
	for i, c := range w.slack.Transcript() {
		outputs[fmt.Sprintf("Slack call %d (%s)", i+1, c.Method)] = c.Text + " " + c.Outcome
	}
	for _, m := range w.slack.Messages(slackserver.DefaultChannel) {
		outputs["Slack message "+m.TS] = slackserver.BlockText(m) + " " + m.Text
		for _, r := range w.slack.Replies(slackserver.DefaultChannel, m.TS) {
			outputs["Slack reply "+r.TS] = slackserver.BlockText(r) + " " + r.Text
		}
	}
	for i, r := range w.slack.Responses() {
		outputs[fmt.Sprintf("click answer %d", i+1)] = r.Text
	}
	reads := []string{api.Prefix + "/pipelines", api.Prefix + "/environments"}
	for _, pl := range []string{pRender, pAccept, pBranch, pGate} {
		reads = append(reads, api.Prefix+"/pipelines/"+pl)
		for _, env := range []string{"dev", "prod"} {
			if env == "prod" && pl != pGate {
				continue
			}
			e := api.Prefix + "/pipelines/" + pl + "/environments/" + env
			reads = append(reads, e, e+"/promotions", e+"/audit")
		}
	}
	for _, path := range reads {
		status, body := w.api("GET", path, w.secrets.aliceToken, "")
		if status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
		outputs["GET "+path] = body
	}
	status, metrics := w.do(request{method: "GET", path: "/metrics"})
	if status != http.StatusOK || !strings.Contains(metrics, "ferry_") {
		t.Errorf("GET /metrics: %d, %d bytes", status, len(metrics))
	}
	outputs["GET /metrics"] = metrics

	all := w.secrets.all()
	all["the rotated Secret data"] = rotated
	for what, secret := range all {
		for where, text := range outputs {
			if strings.Contains(text, secret) {
				t.Errorf("%s appears in %s", what, where)
			}
		}
	}
	if len(outputs) < 100 {
		t.Errorf("searched only %d outputs; the run should have made far more", len(outputs))
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
			want: "ferry.yaml:5: pipelines[0].enviroments: unknown key \"enviroments\"; did you mean \"environments\"?"},
		{name: "ferry.yaml with a cycle of from", send: parse(head + "    environments:\n      - name: dev\n      - {name: a, from: b}\n      - {name: b, from: a}\n"),
			want: "ferry.yaml:7: pipelines[0].environments[1].from: environments take revisions from each other in a cycle: a ← b ← a\nferry.yaml:8: pipelines[0].environments[2].from: environments take revisions from each other in a cycle: b ← a ← b"},
		{name: "ferry.yaml with duplicate environment names", send: parse(head + "    environments:\n      - name: dev\n      - {name: dev, namespace: other}\n"),
			want: "ferry.yaml:5: pipelines[0].environments: exactly one environment must have no `from` (the one that follows the branch); found 2: \"dev\", \"dev\"\nferry.yaml:7: pipelines[0].environments[1].name: environment name \"dev\" is already used by pipelines[0].environments[0]"},
		{name: "ferry.yaml with duplicate pipeline names", send: parse(head + "    environments: [{name: dev}]\n" + head[len("pipelines:\n"):] + "    environments: [{name: dev, namespace: two}]\n"),
			want: "ferry.yaml:6: pipelines[1].name: pipeline name \"shop\" is already used by pipelines[0]"},
		{name: "ferry.yaml values path climbing out with ..", send: parse(head + "    environments:\n      - {name: dev, values: [envs/../../secrets.yaml]}\n"),
			want: "ferry.yaml:6: pipelines[0].environments[0].values[0]: \"envs/../../secrets.yaml\" leaves the repository; paths are relative to the repository root"},
		{name: "ferry.yaml absolute values path", send: parse(head + "    environments:\n      - {name: dev, values: [/etc/ferry/values.yaml]}\n"),
			want: "ferry.yaml:6: pipelines[0].environments[0].values[0]: \"/etc/ferry/values.yaml\" is absolute; paths are relative to the repository root"},
		{name: "ferry.yaml chart path climbing out with ..", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git}\n    chart: ../charts/web\n    environments: [{name: dev}]\n"),
			want: "ferry.yaml:4: pipelines[0].chart: \"../charts/web\" leaves the repository; paths are relative to the repository root"},
		{name: "ferry.yaml with a token pasted inline", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git, auth: {token: ghp_pastedTokenValue0123456789}}\n    chart: chart\n    environments: [{name: dev}]\n"),
			want: "ferry.yaml:3: pipelines[0].source.auth.token: secrets are never written in ferry.yaml: put it in a file only ferry can read and set tokenFile: <path> instead"},
		{name: "ferry.yaml that is not YAML", send: parse("pipelines:\n  - name: shop\n    source: {url: https://git.example/shop.git\n    chart: chart\n"),
			want: "ferry.yaml:2: invalid YAML: did not find expected ',' or '}'"},
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
			return strings.ReplaceAll(p.Reason, short(sha), "<commit>")
		}
	}
	template := func(name, text string) map[string]string {
		return map[string]string{"chart/templates/" + name: text}
	}
	return []badInput{
		{name: "malformed YAML in a values file", send: commit(map[string]string{
			"values-dev.yaml": "greeting: hello dev\nresources:\n  cpu: 100m\n memory: 1Gi\n"}), want: "admission failed: render: render <commit> for dev: values-dev.yaml:3: did not find expected key"},
		{name: "values type that breaks values.schema.json", send: commit(map[string]string{
			"values-dev.yaml": "greeting: hello dev\nreplicas: three\n"}), want: "admission failed: render: render <commit> for dev: render chart: values don't meet the specifications of the schema(s) in the following chart(s):\nweb:\n- at '/replicas': got string, want integer\n"},
		{name: "template error", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ .Values.database.host }}\n")), want: "admission failed: render: render <commit> for dev: render chart: template: web/templates/db.yaml:6:18: executing \"web/templates/db.yaml\" at <.Values.database.host>: nil pointer evaluating interface {}.host"},
		{name: "template parse error", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ .Values.greeting \n")), want: "admission failed: render: render <commit> for dev: render chart: parse error at (web/templates/db.yaml:7): unclosed action started at web/templates/db.yaml:6"},
		{name: "required value missing", send: commit(template("db.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  host: {{ required \"set database.host in values-dev.yaml\" .Values.databaseHost }}\n")), want: "admission failed: render: render <commit> for dev: render chart: execution error at (web/templates/db.yaml:6:11): set database.host in values-dev.yaml"},
		{name: "chart renders invalid Kubernetes YAML", send: commit(template("broken.yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-broken\ndata:\n  a: b\n c: d\n")), want: "admission failed: render: render <commit> for dev: render chart: YAML parse error on web/templates/broken.yaml: error converting YAML to JSON: yaml: line 6: did not find expected key"},
		{name: "chart renders an object without kind", send: commit(template("nokind.yaml",
			"apiVersion: v1\nmetadata:\n  name: {{ .Release.Name }}-nokind\ndata:\n  a: b\n")), want: "admission failed: render: render <commit> for dev: render chart: web/templates/nokind.yaml renders an object without kind (name \"render-dev-nokind\")"},
		{name: "object the API server rejects", send: commit(map[string]string{
			"values-dev.yaml":              "greeting: hello changed\n",
			"chart/templates/invalid.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}_Invalid\ndata:\n  a: b\n"}),
			want:    "apply failed: upgrade of release render-dev: failed to create resource: ConfigMap \"render-dev_Invalid\" is invalid: metadata.name: Invalid value: \"render-dev_Invalid\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'); rolled back to <base>",
			changes: []string{"render/dev helm revisions"},
			check: func(t *testing.T, w *world, before, after snapshot) {
				if b, a := before["render/dev helm revisions"], after["render/dev helm revisions"]; a == b {
					t.Errorf("Helm revisions stayed %s; want the failed upgrade and the rollback recorded", b)
				}
			}},
		{name: "values file missing from the commit", send: commit(nil, gitserver.WithoutFile("values-dev.yaml")), want: "admission failed: render: render <commit> for dev: values file: values-dev.yaml: lstat values-dev.yaml: file does not exist"},
		{name: "values path that is a symlink climbing out of the repo", send: commit(nil,
			gitserver.WithSymlink("values-dev.yaml", "../../../../etc/passwd")), want: "admission failed: render: render <commit> for dev: values file: values-dev.yaml: a symbolic link leads above the repository root: path leaves the repository"},
		{name: "values path that is a symlink to an absolute path", send: commit(nil,
			gitserver.WithSymlink("values-dev.yaml", "/etc/passwd")), want: "admission failed: render: render <commit> for dev: values file: values-dev.yaml: values-dev.yaml is a symbolic link to an absolute path: path leaves the repository"},
		{name: "chart template that is a symlink out of the repo", send: commit(nil,
			gitserver.WithSymlink("chart/templates/leak.yaml", "../../../etc/passwd")), want: "admission failed: render: render <commit> for dev: read chart chart: templates/leak.yaml: a symbolic link leads above the repository root: path leaves the repository"},
		{name: "Chart.yaml missing", send: commit(nil, gitserver.WithoutFile("chart/Chart.yaml")), want: "admission failed: render: render <commit> for dev: load chart chart: Chart.yaml file is missing"},
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
		}, want: "values-dev.yaml:3: limits.größe: 1048576 renders as 1.048576e+06 (Helm reads numbers in values files as floats); pipe it through | int in the template or quote the number in the values file\nvalues-dev.yaml:5: maxBodyBytes: 2097152 renders as 2.097152e+06 (Helm reads numbers in values files as floats); pipe it through | int in the template or quote the number in the values file", changes: changes},
		{name: "a commit of 10,000 files", send: func(t *testing.T, w *world) string {
			files := map[string]string{"values-dev.yaml": "greeting: hello ten thousand\n"}
			for i := range 10000 {
				files[fmt.Sprintf("docs/generated/page-%05d.md", i)] = fmt.Sprintf("# page %d\n", i)
			}
			// The previous case's template reads values this commit drops.
			sha := w.commit(pAccept, "ten thousand files", "", files, gitserver.WithoutFile("chart/templates/extra.yaml"))
			p := w.waitPhase(pAccept, "dev", sha, ferry.PhaseSucceeded)
			return fmt.Sprintf("%d changed files, %d listed", len(p.Revision.ChangedFiles)+p.Revision.ChangedFilesMore, len(p.Revision.ChangedFiles))
		}, want: "10002 changed files, 100 listed", changes: changes},
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
		}, want: "branch \"main\" not found in URL: the repository has no branches"},
		{name: "force-push of the branch to an older commit", send: func(t *testing.T, w *world) string {
			newer := w.commit(pBranch, "newer", "", map[string]string{"values-dev.yaml": "greeting: hello newer\n"})
			ahead := w.waitPhase(pBranch, "dev", newer, ferry.PhaseSucceeded)
			if err := w.repos[pBranch].SetBranch("main", w.base[pBranch]); err != nil {
				t.Fatal(err)
			}
			// The base commit ran here before: only a promotion newer than
			// the one of the newer commit shows the branch was followed back.
			var back ferry.Promotion
			eventually(t, 90*time.Second, "dev to follow the branch back to "+short(w.base[pBranch]), func() (bool, string) {
				back = w.history(pBranch, "dev")[0]
				return back.ID != ahead.ID && back.Revision.SHA == w.base[pBranch] && back.Phase.IsTerminal(),
					fmt.Sprintf("newest promotion %s of %s: %s", back.ID, back.Revision.Short(), back.Phase)
			})
			if back.Phase != ferry.PhaseSucceeded {
				t.Errorf("dev's promotion back to %s ended %s: %s", back.Revision.Short(), back.Phase, back.Reason)
			}
			return back.Reason
		}, want: "verified: health: 2/2 objects healthy", changes: []string{"branch/dev helm revisions"},
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
			return fmt.Sprintf("%d %s", status, errorText(status, text))
		}
	}
	signed := func(body string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature(w.secrets.webhook, body)}
	}
	big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", gitsource.MaxWebhookBody) + `"}`
	deleted := `{"ref":"refs/heads/main","after":"` + strings.Repeat("0", 40) + `","deleted":true}`
	return []badInput{
		{name: "git webhook without a signature", send: deliver("POST", pGate, push, map[string]string{"X-GitHub-Event": "push"}), want: "401 missing signature: header X-Hub-Signature-256"},
		{name: "git webhook signed with another secret", send: deliver("POST", pGate, push,
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature("not-the-secret", push)}), want: "401 signature does not match: header X-Hub-Signature-256"},
		{name: "git webhook whose body was changed after signing", send: deliver("POST", pGate, push+" ",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": githubSignature(w.secrets.webhook, push)}), want: "401 signature does not match: header X-Hub-Signature-256"},
		{name: "git webhook with a SHA-1 signature", send: deliver("POST", pGate, push,
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567",
				"X-Hub-Signature-256": "sha1=0123456789abcdef0123456789abcdef01234567"}), want: "401 signature does not match: header X-Hub-Signature-256 must start with \"sha256=\""},
		{name: "git webhook with an oversize body", send: deliver("POST", pGate, big, signed(big)), want: "413 payload larger than 1048576 bytes"},
		{name: "git webhook that is signed but not JSON", send: deliver("POST", pGate, "ref=main", signed("ref=main")), want: "400 payload is not valid JSON: invalid character 'r' looking for beginning of value"},
		{name: "git webhook for an unknown pipeline", send: deliver("POST", "nope", push, signed(push)), want: "404 no webhook for pipeline \"nope\""},
		{name: "git webhook for a pipeline without a webhook", send: deliver("POST", pRender, push, signed(push)), want: "404 no webhook for pipeline \"render\""},
		{name: "git webhook by GET", send: deliver("GET", pGate, "", nil), want: "405 method not allowed: webhooks are POSTed"},
		{name: "git webhook of a push deleting the branch", send: deliver("POST", pGate, deleted, signed(deleted)), want: "200 ignored: branch main deleted; keeping the last revision"},
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
		return status, errorText(status, text)
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
		{name: "slack click with a bad signature", send: click(slackAlice, "ferry_approve", value(base), "not-the-signing-secret", now()), want: "401 slack request signature does not match"},
		{name: "slack click without a signature", send: click(slackAlice, "ferry_approve", value(base), "", now()), want: "401 slack request signature does not match: X-Slack-Request-Timestamp \"\" is not a Unix time"},
		{name: "slack click with a timestamp older than 5 minutes", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(base), w.secrets.signing, time.Now().Add(-5*time.Minute-10*time.Second))(t, w)
		}, want: "401 slack request timestamp is more than 5 minutes from now"},
		{name: "slack click with a timestamp in the future", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(base), w.secrets.signing, time.Now().Add(6*time.Minute))(t, w)
		}, want: "401 slack request timestamp is more than 5 minutes from now"},
		{name: "slack click from a user not in chat.users", send: func(t *testing.T, w *world) string {
			return click(slackNobody, "ferry_approve", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: "Your Slack account (U0NOBODY001) is not mapped to a ferry user; ask an admin to add it to chat.users."},
		{name: "slack approve by a non-approver", send: func(t *testing.T, w *world) string {
			return click(slackBob, "ferry_approve", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: "you are not an approver for prod: forbidden"},
		{name: "slack reject by a non-approver", send: func(t *testing.T, w *world) string {
			return click(slackBob, "ferry_reject", value(base), w.secrets.signing, time.Now())(t, w)
		}, want: "you are not an approver for prod: forbidden"},
		{name: "slack approve of a revision that is not waiting", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", value(strings.Repeat("b", 40)), w.secrets.signing, time.Now())(t, w)
		}, want: "bbbbbbb is not waiting for approval in prod: conflict"},
		{name: "slack button value naming no revision", send: func(t *testing.T, w *world) string {
			return click(slackAlice, "ferry_approve", `{"pipeline":"gate","environment":"prod"}`, w.secrets.signing, time.Now())(t, w)
		}, want: "400 button value \"{\\\"pipeline\\\":\\\"gate\\\",\\\"environment\\\":\\\"prod\\\"}\" does not name a pipeline, environment and revision"},
		{name: "slack interaction with an oversize body", send: func(t *testing.T, w *world) string {
			status, text := post(t, w, []byte(strings.Repeat("x", 1<<20)), w.secrets.signing, time.Now())
			return fmt.Sprintf("%d %s", status, text)
		}, want: "413 request body too large"},
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
		{name: "API approve without a token", send: call(prod+"/approve", "", rev), want: "401 missing bearer token (Authorization: Bearer <token>)"},
		{name: "API approve with a wrong token", send: call(prod+"/approve", alice+"x", rev), want: "401 invalid bearer token"},
		{name: "API approve with a non-approver's token", send: call(prod+"/approve", bob, rev), want: "403 you are not an approver for prod: forbidden"},
		{name: "API approve with a token in another scheme", send: func(t *testing.T, w *world) string {
			h := http.Header{}
			h.Set("Authorization", "Basic "+alice)
			status, text := w.do(request{method: "POST", path: prod + "/approve", body: rev, header: h})
			return fmt.Sprintf("%d %s", status, errorText(status, text))
		}, want: "401 missing bearer token (Authorization: Bearer <token>)"},
		{name: "API approve of a revision that is not waiting", send: call(prod+"/approve", alice, `{"revision":"`+strings.Repeat("c", 40)+`"}`), want: "409 ccccccc is not waiting for approval in prod: conflict"},
		{name: "API approve of a short revision that is not waiting", send: call(prod+"/approve", alice, `{"revision":"cccc"}`), want: "409 cccc is not waiting for approval in prod (<base> is): conflict"},
		{name: "API approve of something that is not a SHA", send: call(prod+"/approve", alice, `{"revision":"HEAD~1"}`), want: "400 revision \"HEAD~1\" is not a commit SHA (4 to 64 hex digits)"},
		{name: "API approve naming the actor in the body", send: call(prod+"/approve", bob, `{"revision":"`+base+`","actor":"alice"}`), want: "400 request body: json: unknown field \"actor\""},
		{name: "API reject without a reason", send: call(prod+"/reject", alice, rev), want: "400 a rejection needs a reason"},
		{name: "API approve with an oversize body", send: call(prod+"/approve", alice, `{"revision":"`+base+`","via":"`+strings.Repeat("x", api.MaxRequestBody)+`"}`), want: "413 request body is larger than 16384 bytes"},
		{name: "API promote of a revision that has not passed upstream", send: call(prod+"/promote", alice, `{"revision":"`+strings.Repeat("d", 40)+`"}`), want: "409 ddddddd has not succeeded in dev: conflict"},
		{name: "API promote into the environment that follows the branch", send: call(api.Prefix+"/pipelines/gate/environments/dev/promote", alice, rev), want: "409 dev follows the branch main; push to the branch instead: conflict"},
		{name: "API approve in an unknown environment", send: call(api.Prefix+"/pipelines/gate/environments/qa/approve", alice, rev), want: "404 pipeline gate has no environment \"qa\" (environments: dev, prod)"},
		{name: "API pause without a token", send: call(prod+"/pause", "", ""), want: "401 missing bearer token (Authorization: Bearer <token>)"},
	}
}
