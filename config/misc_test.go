package config_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

func TestParseSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC) // a Friday
	tests := []struct {
		spec    string
		next    time.Time
		wantErr string
	}{
		{spec: "CRON_TZ=Europe/Berlin 0 9 * * 1-4", next: time.Date(2026, 3, 9, 9, 0, 0, 0, berlin)},
		{spec: "TZ=Europe/Berlin 30 8 * * *", next: time.Date(2026, 3, 7, 8, 30, 0, 0, berlin)},
		{spec: "0 13 * * *", next: time.Date(2026, 3, 6, 13, 0, 0, 0, time.UTC)},
		{spec: "CRON_TZ=UTC", wantErr: `schedule "CRON_TZ=UTC" has a time zone but no cron fields; write e.g. "CRON_TZ=UTC 0 9 * * 1-5"`},
		{spec: "CRON_TZ=UTC   ", wantErr: `schedule "CRON_TZ=UTC   " has a time zone but no cron fields; write e.g. "CRON_TZ=UTC 0 9 * * 1-5"`},
		{spec: "TZ=", wantErr: `schedule "TZ=" names no time zone after TZ=; write e.g. CRON_TZ=Europe/Berlin, or drop the prefix for UTC`},
		{spec: "CRON_TZ=Nowhere/Land 0 9 * * *", wantErr: `schedule "CRON_TZ=Nowhere/Land 0 9 * * *": unknown time zone "Nowhere/Land"`},
		{spec: "0 9 * *", wantErr: `schedule "0 9 * *": expected exactly 5 fields, found 4: [0 9 * *]`},
		{spec: "", wantErr: `schedule "": empty spec string`},
	}
	for _, tt := range tests {
		s, err := config.ParseSchedule(tt.spec)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseSchedule(%q) error = %v, want %s", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tt.next) {
			t.Errorf("ParseSchedule(%q).Next = %s, want %s", tt.spec, got, tt.next)
		}
	}
}

func TestParseRateAndPercent(t *testing.T) {
	rates := []struct {
		in   string
		want config.Rate
		err  string
	}{
		{in: "50/s", want: config.Rate{Freq: 50, Per: time.Second}},
		{in: "600/m", want: config.Rate{Freq: 600, Per: time.Minute}},
		{in: "50/sec", err: `"50/sec" is not a rate; use N/s, N/m`},
		{in: "0/s", err: `"0/s" is not a rate; use N/s, N/m`},
		{in: "50", err: `"50" is not a rate; use N/s, N/m`},
	}
	for _, tt := range rates {
		got, err := config.ParseRate(tt.in)
		if (err != nil && err.Error() != tt.err) || (err == nil && (tt.err != "" || got != tt.want)) {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, %s", tt.in, got, err, tt.want, tt.err)
		}
	}
	percents := []struct {
		in   string
		want config.Percent
		err  string
	}{
		{in: "99%", want: 99},
		{in: "99.95%", want: 99.95},
		{in: "0%", want: 0},
		{in: "100.1%", err: `"100.1%" is not a percentage; use N% with N from 0 to 100, e.g. 99.5%`},
		{in: "0.99", err: `"0.99" is not a percentage; use N% with N from 0 to 100, e.g. 99.5%`},
	}
	for _, tt := range percents {
		got, err := config.ParsePercent(tt.in)
		if (err != nil && err.Error() != tt.err) || (err == nil && (tt.err != "" || got != tt.want)) {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v, %s", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private", "  hunter2-private\n", 0o600)
	open := write("open", "hunter2-open\n", 0o644)
	empty := write("empty", " \n", 0o600)
	tests := []struct {
		name, file, want, wantErr, wantLog string
	}{
		{name: "private file is read trimmed", file: private, want: "hunter2-private"},
		{name: "world-readable file is read with a warning", file: open, want: "hunter2-open",
			wantLog: `level=WARN msg="secret file is readable by every user; restrict it with chmod o-r" file=` + open + " mode=-rw-r--r--\n"},
		{name: "missing file", file: filepath.Join(dir, "absent"), wantErr: "secret file " + filepath.Join(dir, "absent") + " does not exist"},
		{name: "empty file", file: empty, wantErr: "secret file " + empty + " is empty"},
		{name: "directory", file: dir, wantErr: "secret file " + dir + " is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))
			got, err := config.ReadSecret(context.Background(), log, tt.file)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error = %v, want %s", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("ReadSecret = %q, %v; want %q", got, err, tt.want)
			}
			if logs.String() != tt.wantLog {
				t.Errorf("log = %q, want %q", logs.String(), tt.wantLog)
			}
			if strings.Contains(logs.String(), "hunter2") {
				t.Errorf("log shows the secret")
			}
		})
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestCheckSecrets reports every unusable secret file with its key's line.
func TestCheckSecrets(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "git-token")
	if err := os.WriteFile(token, []byte("t0ken"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ferry.yaml")
	text := "pipelines:\n  - name: shop\n    source:\n      url: https://git.example/shop.git\n      auth: { tokenFile: git-token }\n" +
		"      webhook: { provider: github, secretFile: hook-secret }\n    chart: chart\n    environments: [ { name: dev } ]\n" +
		"chat:\n  slack: { tokenFile: slack-token, signingSecretFile: git-token, channel: C0123456789 }\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(file, helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckSecrets(context.Background(), slog.New(slog.DiscardHandler))
	want := file + ":6: pipelines[0].source.webhook.secretFile: secret file " + filepath.Join(dir, "hook-secret") + " does not exist\n" +
		file + ":10: chat.slack.tokenFile: secret file " + filepath.Join(dir, "slack-token") + " does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("CheckSecrets error =\n%v\nwant\n%s", err, want)
	}
}

func TestPipelineSelection(t *testing.T) {
	one, err := config.Parse("one.yaml", mustRead(t, filepath.Join("testdata", "valid", "minimal.yaml")), helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	two, err := config.Parse("two.yaml", mustRead(t, filepath.Join("testdata", "valid", "two-pipelines.yaml")), helmOptions)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		c       *config.Config
		pick    string
		want    string
		wantErr string
	}{
		{name: "only pipeline without a name", c: one, want: "shop"},
		{name: "only pipeline by name", c: one, pick: "shop", want: "shop"},
		{name: "several need a name", c: two, wantErr: "the config has 2 pipelines; choose one with --pipeline: shop, blog"},
		{name: "named among several", c: two, pick: "blog", want: "blog"},
		{name: "unknown name", c: two, pick: "shoop", wantErr: `no pipeline named "shoop"; the config has: shop, blog`},
	}
	for _, tt := range tests {
		p, err := tt.c.Pipeline(tt.pick)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error = %v, want %s", tt.name, err, tt.wantErr)
			}
		case err != nil || p.Name != tt.want:
			t.Errorf("%s: got %v, %v; want %s", tt.name, p, err, tt.want)
		}
	}
}

// TestHostileInput: a file that expands or nests without bound, or has
// more problems than anyone reads, gets a short answer quickly.
func TestHostileInput(t *testing.T) {
	bomb := "pipelines:\n  - &p\n    name: shop\n    source: {url: /r}\n    chart: c\n" +
		"    environments: [&e {name: dev, set: &s [" + strings.Repeat("a=1, ", 49) + "a=1]}" + strings.Repeat(", *e", 49) + "]\n" +
		strings.Repeat("  - *p\n", 99)
	many := "pipelines: [" + strings.Repeat("1, ", 149) + "1]\n"
	deep := "pipelines: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	tests := []struct {
		name, text string
		count      int
		last       string
	}{
		{"alias bomb", bomb, 1, "h.yaml:6: pipelines[7].environments[26].set[19]: too large after expanding aliases"},
		{"deep nesting", deep, 1, "h.yaml:1: pipelines[0]: expected a mapping, got a list"},
		{"many problems", many, 101, "h.yaml: 50 more problems not listed"},
	}
	for _, tt := range tests {
		_, err := config.Parse("h.yaml", []byte(tt.text), helmOptions)
		var ps config.Problems
		if !errors.As(err, &ps) {
			t.Fatalf("%s: error = %v", tt.name, err)
		}
		if len(ps) != tt.count || ps[len(ps)-1].String() != tt.last {
			t.Errorf("%s: %d problems, last %q; want %d, %q", tt.name, len(ps), ps[len(ps)-1], tt.count, tt.last)
		}
	}
}
