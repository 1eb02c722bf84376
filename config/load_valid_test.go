package config_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-gitops/ferry/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFullExample checks the typed values consumers read from the full example.
func TestFullExample(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "valid", "full.yaml"), helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Pipeline("")
	if err != nil {
		t.Fatal(err)
	}
	dev, staging, prod := &p.Environments[0], &p.Environments[1], &p.Environments[2]
	checks := []struct {
		name      string
		got, want any
	}{
		{"source interval", p.Source.Interval, 30 * time.Second},
		{"webhook provider", p.Source.Webhook.Provider, config.WebhookGitHub},
		{"dev rate", dev.Gates.LoadTest.Rate, config.Rate{Freq: 50, Per: time.Second}},
		{"dev p95", dev.Gates.LoadTest.SLO.P95, 200 * time.Millisecond},
		{"dev success rate", dev.Gates.LoadTest.SLO.SuccessRate.Fraction(), 0.99},
		{"dev min requests", dev.Gates.LoadTest.SLO.MinRequests, 1000},
		{"dev set", dev.Set, []string{"monitoring.enabled=false", "security.networkPolicies.enabled=false"}},
		{"staging rate per second", staging.Gates.LoadTest.Rate.PerSecond(), 10.0},
		{"staging method default", staging.Gates.LoadTest.Method, "GET"},
		{"staging timeout default", staging.Gates.LoadTest.Timeout, 5 * time.Second},
		{"staging success rate", staging.Gates.LoadTest.SLO.SuccessRate, config.Percent(99.5)},
		{"staging onFailure default", staging.OnFailure, config.OnFailureRollback},
		{"staging maxHistory default", staging.MaxHistory, 10},
		{"staging rule message", staging.Gates.Policy.Rules[0].Message, "images must be pinned, not :latest"},
		{"prod namespace", prod.Namespace, "vibecode-production"},
		{"prod window", prod.Windows[0].Duration, 6 * time.Hour},
		{"prod approvers", prod.Approval.Approvers, []string{"alice", "bob"}},
		{"slack users", c.Chat.Users["U0G9QF9C6"], "bob"},
		{"slack users by e-mail", c.Chat.Users["Carol.Ops@Example.com"], "carol"},
		{"lease name default", c.State.LeaseName, "ferry-leader"},
		{"retry period", c.Timing.LeaderElection.RetryPeriod, 2 * time.Second},
		{"summary", p.Summary(), "vibecode-platform: dev [health, loadTest] → staging [policy, health, loadTest] → prod [window, approval 1 of 2, policy, health]"},
	}
	for _, ch := range checks {
		if !equal(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func equal(a, b any) bool {
	ya, _ := yaml.Marshal(a)
	yb, _ := yaml.Marshal(b)
	return bytes.Equal(ya, yb)
}

// TestRoundTrip saves each valid example with its defaults filled in,
// compares that with a golden file, and reads it back to the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"full", "minimal"} {
		t.Run(name, func(t *testing.T) {
			c, err := config.Parse(name+".yaml", mustRead(t, filepath.Join("testdata", "valid", name+".yaml")), helmOptions)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "valid", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := mustRead(t, golden); !bytes.Equal(out, want) {
				t.Errorf("saved config differs from %s (run go test -update):\n%s", golden, out)
			}
			again, err := config.Parse("saved.yaml", out, helmOptions)
			if err != nil {
				t.Fatalf("saved config does not load: %v", err)
			}
			out2, err := yaml.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("config changed on a second round trip:\n%s", out2)
			}
		})
	}
}

// TestLoadResolvesHostFiles: secret files and kubeconfigs are relative to
// ferry.yaml's directory; repository paths stay as written.
func TestLoadResolvesHostFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ferry.yaml")
	text := "pipelines:\n  - name: shop\n    source: { url: https://git.example/shop.git, auth: { tokenFile: secrets/token } }\n" +
		"    chart: chart\n    environments:\n      - { name: dev, kubeconfig: kube/dev.yaml, values: [values/dev.yaml] }\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pipelines[0]
	for _, ch := range []struct{ got, want string }{
		{p.Source.Auth.TokenFile, filepath.Join(dir, "secrets", "token")},
		{p.Environments[0].Kubeconfig, filepath.Join(dir, "kube", "dev.yaml")},
		{p.Environments[0].Values[0], "values/dev.yaml"},
		{p.Chart, "chart"},
	} {
		if ch.got != ch.want {
			t.Errorf("got %q, want %q", ch.got, ch.want)
		}
	}
}

// TestLoadMissingFile names the file.
func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "nope.yaml"), helmOptions)
	if err == nil || err.Error() != "read config: open testdata/nope.yaml: no such file or directory" {
		t.Errorf("error = %v", err)
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkParseFull measures decoding and validating the full example,
// which the daemon does at start and `ferry config validate` on each run.
func BenchmarkParseFull(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid", "full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse("full.yaml", data, helmOptions); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "bytes/file")
}
