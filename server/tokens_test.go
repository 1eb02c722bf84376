package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry/server/servertest"
)

func TestParseTokens(t *testing.T) {
	const tokA, tokB = "0123456789abcdefA", "0123456789abcdefB"
	tests := []struct {
		name    string
		text    string
		wantErr string
		want    map[string]string // token → user; "" means unknown
	}{
		{
			name: "pairs with comments and blank lines map tokens to users",
			text: "# ops\n" + tokA + " alice\n\n  " + tokB + "\tbob  \n",
			want: map[string]string{tokA: "alice", tokB: "bob", tokA + "x": "", tokA[:16]: "", "": ""},
		},
		{name: "a line with one field names its line", text: tokA + " alice\n" + tokB + "\n", wantErr: "tokens:2: want \"token user\", found 1 fields"},
		{name: "a line with three fields names its line", text: tokA + " alice smith\n", wantErr: "tokens:1: want \"token user\", found 3 fields"},
		{name: "a short token is refused", text: "hunter2 alice\n", wantErr: "tokens:1: token for alice is shorter than 16 characters"},
		{name: "a repeated token is refused", text: tokA + " alice\n" + tokA + " bob\n", wantErr: "tokens:2: token for bob repeats an earlier line's token"},
		{name: "only comments is refused", text: "# nobody\n", wantErr: "tokens: no \"token user\" lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTokens("tokens", tt.text)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				for _, tok := range []string{tokA, tokB, "hunter2"} {
					if strings.Contains(err.Error(), tok) {
						t.Errorf("error shows token %q", tok)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for tok, want := range tt.want {
				user, ok := got.user(tok)
				if user != want || ok != (want != "") {
					t.Errorf("user(%q) = %q, %t; want %q", tok, user, ok, want)
				}
			}
		})
	}
}

func TestNewRefusesUnusableSecretFiles(t *testing.T) {
	tests := []struct {
		name    string
		file    string // secret file to break
		content string // "" removes it
		wantErr string // suffix after the temp dir
	}{
		{name: "missing tokens file", file: "api-tokens", wantErr: "/api-tokens does not exist"},
		{name: "malformed tokens file", file: "api-tokens", content: "justonefield\n", wantErr: "/api-tokens:1: want \"token user\", found 1 fields"},
		{name: "missing webhook secret", file: "webhook-secret", wantErr: "/webhook-secret does not exist"},
		{name: "empty slack signing secret", file: "slack-signing", content: "\n", wantErr: "/slack-signing is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadTestConfig(t, nil)
			dir := filepath.Dir(cfg.Server.APITokensFile)
			path := filepath.Join(dir, tt.file)
			if tt.content == "" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(t.Context(), Options{Config: cfg, Daemon: servertest.NewDaemon(cfg), Metrics: prometheus.NewRegistry()})
			if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to end %q", err, tt.wantErr)
			}
			if sec := containsSecret(err.Error()); sec != "" {
				t.Errorf("error shows secret %q", sec)
			}
		})
	}
}
