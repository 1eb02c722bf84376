// Package servertest is a stand-in daemon for testing ferry's HTTP layer and
// CLI without a cluster: a fixed story of statuses and history, the rules the
// API relies on (approver list, revision waiting, revision passed upstream)
// answered with the root package's errors, and a record of every write.
// Promotions it starts move one phase per Status call, so a client polling
// for progress sees each phase in order.
//
// Tests that need the real behaviour run against the reconciler's daemon;
// product code never imports this package.
package servertest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

// Secrets of the test config; no response or log may contain one.
const (
	AliceToken    = "tok-alice-5e2f8a41c9d07b36"
	CarolToken    = "tok-carol-0b7c13e9a4f26d58"
	WebhookSecret = "whsec-3c1d9f0e7a"
	SlackSigning  = "slack-signing-8d2e4f6a"
	SlackToken    = "xoxb-test-token"
)

// Secrets lists every secret of the test config.
var Secrets = []string{AliceToken, CarolToken, WebhookSecret, SlackSigning, SlackToken}

// Revisions of the story: ShaB passed dev and staging and waits for
// approval in prod, where ShaA runs. ShaC runs in blog/live and once ran in
// shop/dev, so "9f8e7" is an ambiguous prefix there.
const (
	ShaA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
	ShaB = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	ShaC = "9f8e70001111222233334444555566667777aaaa"
)

// T0 is the story's "now".
var T0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// configText is two pipelines: shop (dev → staging → prod, prod manual
// with approvers alice and bob, a GitHub webhook) and blog (one environment,
// branch release, no webhook). Slack maps U024BE7LH to alice and U0G9QF9C6
// to carol.
const configText = `
pipelines:
  - name: shop
    source:
      url: https://git.example.test/shop.git
      webhook: { provider: github, secretFile: %[1]s/webhook-secret }
    chart: chart
    environments:
      - name: dev
      - name: staging
        from: dev
      - name: prod
        from: staging
        approval: { required: 1, approvers: [alice, bob] }
  - name: blog
    source: { url: https://git.example.test/blog.git, branch: release }
    chart: charts/blog
    environments: [ { name: live } ]
chat:
  slack: { tokenFile: %[1]s/slack-token, signingSecretFile: %[1]s/slack-signing, channel: C0FERRY01 }
  users: { U024BE7LH: alice, U0G9QF9C6: carol }
server: { apiTokensFile: %[1]s/api-tokens }
`

// Config writes the story's secret files (owner-only) into a fresh
// directory and parses the story's config pointing at them. edit, when not
// nil, changes the YAML text first.
func Config(t testing.TB, edit func(string) string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"webhook-secret": WebhookSecret + "\n",
		"slack-token":    SlackToken + "\n",
		"slack-signing":  SlackSigning + "\n",
		"api-tokens":     "# token user\n" + AliceToken + " alice\n\n" + CarolToken + " carol\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := fmt.Sprintf(configText, dir)
	if edit != nil {
		text = edit(text)
	}
	cfg, err := config.Parse("ferry.yaml", []byte(text), config.Options{})
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}
