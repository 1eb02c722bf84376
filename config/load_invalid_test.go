package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// helmOptions checks `set` entries with Helm's own parser, as cmd/ferry does.
var helmOptions = config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}

// problemsOf loads a file that must be invalid and returns its problems as
// the lines `ferry config validate` prints.
func problemsOf(t *testing.T, file string) []string {
	t.Helper()
	c, err := config.Load(file, helmOptions)
	if c != nil {
		t.Fatalf("Load(%s) returned a config for an invalid file", file)
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load(%s) error = %v, want Problems", file, err)
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return lines
}

// TestLoadInvalid has one case per rule; each file in testdata/invalid is
// a small config with that mistake. want lists every problem as
// "line: path: message", after the file name.
func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"approval-more-than-approvers", []string{
			"9: pipelines[0].environments[1].approval.required: 3 approvals required but only 2 approvers listed",
		}},
		{"approval-without-approvers", []string{
			"9: pipelines[0].environments[1].approval.approvers: 1 approval(s) required but no approvers listed",
		}},
		{"bool-unparsable", []string{
			"7: pipelines[0].environments[0].createNamespace: expected true or false, got \"yes\"",
		}},
		{"chart-absolute", []string{
			"4: pipelines[0].chart: \"/srv/chart\" is absolute; paths are relative to the repository root",
		}},
		{"chat-users-key", []string{
			"11: chat.users[\"Alice@Example.COM\"]: \"Alice@Example.COM\" is the same e-mail address as \"alice@example.com\" (e-mail addresses match case-insensitively)",
			"12: chat.users[\"Bob <bob@example.com>\"]: \"Bob <bob@example.com>\" is neither a Slack user ID (like U024BE7LH) nor an e-mail address (like alice@example.com)",
			"13: chat.users[\"carol@\"]: \"carol@\" is neither a Slack user ID (like U024BE7LH) nor an e-mail address (like alice@example.com)",
			"14: chat.users.u0g9qf9c6: \"u0g9qf9c6\" is neither a Slack user ID (like U024BE7LH) nor an e-mail address (like alice@example.com)",
			"15: chat.users[\"erin@example.com\"]: must name a ferry identity",
		}},
		{"cron-bad-field", []string{
			"9: pipelines[0].environments[1].windows[0].schedule: schedule \"61 9 * * *\": end of range (61) above maximum (59): 61",
		}},
		{"cron-empty-zone", []string{
			"9: pipelines[0].environments[1].windows[0].schedule: schedule \"TZ= 0 9 * * *\" names no time zone after TZ=; write e.g. CRON_TZ=Europe/Berlin, or drop the prefix for UTC",
		}},
		{"cron-unknown-zone", []string{
			"9: pipelines[0].environments[1].windows[0].schedule: schedule \"CRON_TZ=Mars/Olympus 0 9 * * *\": unknown time zone \"Mars/Olympus\"",
		}},
		{"cron-zone-without-fields", []string{
			"9: pipelines[0].environments[1].windows[0].schedule: schedule \"CRON_TZ=UTC\" has a time zone but no cron fields; write e.g. \"CRON_TZ=UTC 0 9 * * 1-5\"",
		}},
		{"duplicate-key", []string{
			"5: pipelines[0].chart: key \"chart\" repeats the one on line 4",
		}},
		{"duration-unparsable", []string{
			"3: pipelines[0].source.interval: \"30 sec\" is not a duration; use e.g. 500ms, 30s, 5m, 1h30m",
		}},
		{"empty-file", []string{
			"1: pipelines: missing required key \"pipelines\"",
		}},
		{"enum-suggests", []string{
			"7: pipelines[0].environments[0].onFailure: \"rolback\" is not one of hold, rollback; did you mean \"rollback\"?",
		}},
		{"environment-name-repeated", []string{
			"7: pipelines[0].environments[1].name: environment name \"dev\" is already used by pipelines[0].environments[0]",
			"8: pipelines[0].environments[1].from: environment \"dev\" cannot take revisions from itself",
		}},
		{"from-cycle", []string{
			"8: pipelines[0].environments[1].from: environments take revisions from each other in a cycle: a ← b ← a",
			"10: pipelines[0].environments[2].from: environments take revisions from each other in a cycle: b ← a ← b",
		}},
		{"from-itself", []string{
			"8: pipelines[0].environments[1].from: environment \"prod\" cannot take revisions from itself",
		}},
		{"from-unknown-suggests", []string{
			"8: pipelines[0].environments[1].from: no environment named \"devv\" in this pipeline; did you mean \"dev\"?",
		}},
		{"inline-slack-token", []string{
			"8: chat.slack.token: secrets are never written in ferry.yaml: put it in a file only ferry can read and set tokenFile: <path> instead",
		}},
		{"inline-token-under-source", []string{
			"3: pipelines[0].source.token: secrets are never written in ferry.yaml: put it in a file only ferry can read and set auth.tokenFile: <path> instead",
		}},
		{"inline-token", []string{
			"3: pipelines[0].source.auth.token: secrets are never written in ferry.yaml: put it in a file only ferry can read and set tokenFile: <path> instead",
		}},
		{"int-unparsable", []string{
			"7: pipelines[0].environments[0].maxHistory: expected a whole number, got \"ten\"",
		}},
		{"leader-election-order", []string{
			"8: timing.leaderElection.leaseDuration: must be longer than renewDeadline (15s), got 10s",
		}},
		{"list-expected", []string{
			"5: pipelines[0].environments: expected a list, got \"dev\"",
		}},
		{"listen-address", []string{
			"7: server.listen: \"localhost\" is not an address to listen on; use host:port or :port",
		}},
		{"loadtest-unreachable-min-requests", []string{
			"8: pipelines[0].environments[0].gates.loadTest.slo.p95: p95 (900ms) cannot be above p99 (500ms)",
			"8: pipelines[0].environments[0].gates.loadTest.slo.minRequests: 1000 can never be reached: rate 10/s for 30s sends 300 requests",
		}},
		{"loadtest-url-not-http", []string{
			"8: pipelines[0].environments[0].gates.loadTest.urls[0]: \"dev.example/healthz\" is not an http:// or https:// URL",
		}},
		{"name-not-dns-label", []string{
			"6: pipelines[0].environments[0].name: \"Dev_1\" is not a valid environment name: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
		}},
		{"namespace-label-invalid", []string{
			"7: pipelines[0].environments[0].namespaceLabels[\"bad key!\"]: \"bad key!\" is not a valid label key",
		}},
		{"percent-above-100", []string{
			"8: pipelines[0].environments[0].gates.loadTest.slo.successRate: \"101%\" is not a percentage; use N% with N from 0 to 100, e.g. 99.5%",
		}},
		{"pipeline-name-repeated", []string{
			"7: pipelines[1].name: pipeline name \"shop\" is already used by pipelines[0]",
		}},
		{"rate-unparsable", []string{
			"8: pipelines[0].environments[0].gates.loadTest.rate: \"50/sec\" is not a rate; use N/s, N/m",
		}},
		{"release-too-long", []string{
			"7: pipelines[0].environments[0].release: release name \"a-very-long-release-name-that-helm-will-refuse-to-install-ok\" is 60 characters; Helm allows at most 53 (set release: to a shorter name)",
		}},
		{"required-missing", []string{
			"2: pipelines[0].source: missing required key \"source\"",
			"2: pipelines[0].chart: missing required key \"chart\"",
			"4: pipelines[0].environments[0].name: must not be empty",
		}},
		{"same-release-twice", []string{
			"10: pipelines[0].environments[1].release: release \"shop-dev\" in namespace \"shop-dev\" is already deployed by pipelines[0].environments[0]",
		}},
		{"set-helm-syntax", []string{
			"7: pipelines[0].environments[0].set[0]: not a valid --set expression \"a=b,c\": key \"c\" has no value",
		}},
		{"set-string-helm-syntax", []string{
			"7: pipelines[0].environments[0].setString[0]: not a valid --set-string expression \"name\": key \"name\" has no value",
		}},
		{"slack-channel-name", []string{
			"8: chat.slack.channel: \"#deploys\" is not a Slack channel ID (like C0123456789); ferry uses the ID so a renamed channel keeps working",
			"9: chat.users.alice: \"alice\" is neither a Slack user ID (like U024BE7LH) nor an e-mail address (like alice@example.com)",
		}},
		{"ssh-key-without-known-hosts", []string{
			"3: pipelines[0].source.auth.knownHostsFile: is required with sshKeyFile, so that the server's host key is checked",
		}},
		{"token-with-ssh-url", []string{
			"3: pipelines[0].source.auth.tokenFile: tokenFile is for HTTPS, but the URL uses SSH; use sshKeyFile and knownHostsFile",
		}},
		{"two-documents", []string{
			"7: only one YAML document is allowed; this file has another one from line 7",
		}},
		{"two-roots", []string{
			"5: pipelines[0].environments: exactly one environment must have no `from` (the one that follows the branch); found 2: \"dev\", \"prod\"",
		}},
		{"unknown-key-lists-known", []string{
			"7: pipelines[0].environments[0].colour: unknown key \"colour\"; known keys: name, from, kubeconfig, context, namespace, createNamespace, namespaceLabels, release, values, set, setString, gates, approval, windows, onFailure, drift, maxHistory",
		}},
		{"unknown-key-suggests", []string{
			"5: pipelines[0].enviroments: unknown key \"enviroments\"; did you mean \"environments\"?",
		}},
		{"url-not-git", []string{
			"3: pipelines[0].source.url: \"git.example/shop\" is not a Git URL; use https://, ssh://, user@host:path, file:// or an absolute path",
		}},
		{"values-escape-repo", []string{
			"7: pipelines[0].environments[0].values[0]: \"values/../../secrets.yaml\" leaves the repository; paths are relative to the repository root",
		}},
		{"webhook-provider-unknown", []string{
			"3: pipelines[0].source.webhook.provider: \"bitbucket\" is not one of github, gitlab, gitea, generic",
		}},
		{"window-without-duration", []string{
			"9: pipelines[0].environments[1].windows[0].duration: missing required key \"duration\"",
		}},
		{"yaml-syntax", []string{
			"4: invalid YAML: mapping values are not allowed in this context",
		}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name+".yaml"] = true
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join("testdata", "invalid", tt.name+".yaml")
			got := problemsOf(t, file)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = file + ":" + w
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	files, err := os.ReadDir(filepath.Join("testdata", "invalid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !covered[f.Name()] {
			t.Errorf("testdata/invalid/%s has no case in the table", f.Name())
		}
	}
}

// TestInlineSecretNeverEchoed: the message about an inline secret must not
// repeat the secret.
func TestInlineSecretNeverEchoed(t *testing.T) {
	for _, name := range []string{"inline-token", "inline-token-under-source", "inline-slack-token"} {
		for _, line := range problemsOf(t, filepath.Join("testdata", "invalid", name+".yaml")) {
			if strings.Contains(line, "s3cr3t-value") || strings.Contains(line, "xoxb-123") {
				t.Errorf("%s: problem repeats the secret: %s", name, line)
			}
		}
	}
}
