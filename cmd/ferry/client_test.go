package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server"
	"github.com/ferry-gitops/ferry/server/servertest"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata")

// clientCommands builds the API client commands with deps, as newRootCmd
// adds them.
func clientCommands(deps clientDeps) *cobra.Command {
	root := &cobra.Command{Use: "ferry", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(statusCmd(deps), historyCmd(deps), approveCmd(deps), rejectCmd(deps), promoteCmd(deps),
		pauseCmd(deps, true), pauseCmd(deps, false))
	return root
}

// startAPI serves the HTTP layer over the servertest daemon; edit changes
// the config text first.
func startAPI(t *testing.T, edit func(string) string) (*httptest.Server, *servertest.Daemon) {
	t.Helper()
	cfg := servertest.Config(t, edit)
	d := servertest.NewDaemon(cfg)
	s, err := server.New(t.Context(), server.Options{
		Config: cfg, Daemon: d, Metrics: prometheus.NewRegistry(), Now: func() time.Time { return servertest.T0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, d
}

func TestClientCommands(t *testing.T) {
	tests := []struct {
		name  string
		args  string
		token string // FERRY_TOKEN; "" leaves it unset
		edit  func(string) string
		setup func(*servertest.Daemon)
	}{
		{name: "status", args: "status", token: servertest.CarolToken},
		{name: "status-json", args: "status -o json", token: servertest.CarolToken},
		{name: "status-one-pipeline", args: "status --pipeline blog", token: servertest.CarolToken},
		{name: "history", args: "history prod", token: servertest.CarolToken},
		{name: "history-json-limit", args: "history prod --limit 1 -o json", token: servertest.CarolToken},
		{name: "approve-waiting-and-wait", args: "approve prod --wait", token: servertest.AliceToken},
		{name: "approve-prefix-json", args: "approve prod 9f8e7d6 -o json", token: servertest.AliceToken},
		{name: "approve-wait-json", args: "approve prod --wait -o json", token: servertest.AliceToken},
		{name: "approve-non-approver", args: "approve prod", token: servertest.CarolToken},
		{name: "approve-not-waiting", args: "approve prod 1a2b3c4", token: servertest.AliceToken},
		{name: "approve-nothing-waits", args: "approve staging", token: servertest.AliceToken},
		{name: "approve-without-token", args: "approve prod"},
		{name: "approve-unknown-env", args: "approve qa", token: servertest.AliceToken},
		{name: "reject-with-reason", args: "reject prod --reason 'p95 regressed in staging'", token: servertest.AliceToken},
		{name: "reject-without-reason", args: "reject prod", token: servertest.AliceToken},
		{name: "promote-and-wait", args: "promote staging 1a2b3c4 --wait", token: servertest.CarolToken},
		{
			name: "promote-and-wait-rolled-back", args: "promote staging 1a2b3c4 --wait", token: servertest.CarolToken,
			setup: func(d *servertest.Daemon) { d.SetOutcome(ferry.PhaseRolledBack) },
		},
		{name: "promote-ambiguous", args: "promote staging 9f8e7", token: servertest.CarolToken},
		{name: "promote-not-upstream-json", args: "promote prod abcdef -o json", token: servertest.CarolToken},
		{name: "pause-finds-the-pipeline", args: "pause live", token: servertest.CarolToken},
		{name: "resume-json", args: "resume prod -o json", token: servertest.CarolToken},
		{name: "output-yaml-refused", args: "status -o yaml", token: servertest.CarolToken},
		{
			name: "env-in-two-pipelines-needs-pipeline", args: "pause prod", token: servertest.CarolToken,
			edit: func(s string) string { return strings.Replace(s, "{ name: live }", "{ name: prod }", 1) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, d := startAPI(t, tt.edit)
			if tt.setup != nil {
				tt.setup(d)
			}
			env := map[string]string{envServer: ts.URL}
			if tt.token != "" {
				env[envToken] = tt.token
			}
			deps := clientDeps{
				now: func() time.Time { return servertest.T0 }, getenv: func(k string) string { return env[k] },
				http: ts.Client(), poll: time.Millisecond,
			}
			root := clientCommands(deps)
			var stdout, stderr bytes.Buffer
			root.SetOut(&stdout)
			root.SetErr(&stderr)
			root.SetArgs(splitArgs(tt.args))
			err := root.ExecuteContext(t.Context())
			got := fmt.Sprintf("$ ferry %s\n--- stdout\n%s--- stderr\n%s--- error\n%v\n--- daemon writes\n%s",
				tt.args, stdout.String(), stderr.String(), err, strings.Join(append(d.Writes(), ""), "\n"))
			checkGolden(t, filepath.Join("testdata", "client", tt.name+".golden"), got)
			for _, sec := range servertest.Secrets {
				if strings.Contains(got, sec) {
					t.Errorf("output contains secret %q", sec)
				}
			}
		})
	}
}

func TestClientFlagsOverrideEnvironment(t *testing.T) {
	ts, _ := startAPI(t, nil)
	env := map[string]string{envServer: "http://127.0.0.1:1", envToken: "wrong-token-wrong-token"}
	deps := clientDeps{now: func() time.Time { return servertest.T0 }, getenv: func(k string) string { return env[k] }, http: ts.Client(), poll: time.Millisecond}
	root := clientCommands(deps)
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetArgs([]string{"history", "prod", "--limit", "1", "--server", ts.URL, "--token", servertest.CarolToken})
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := "ID            REVISION   PHASE     STARTED   ACTOR   GATES\nshop-prod-2   9f8e7d6    Waiting   10m       ferry   approval Pending\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
}

// splitArgs splits a command line on spaces, keeping 'quoted words' together.
func splitArgs(s string) []string {
	var out []string
	for i, part := range strings.Split(s, "'") {
		if i%2 == 1 {
			out = append(out, part)
			continue
		}
		out = append(out, strings.Fields(part)...)
	}
	return out
}

// checkGolden compares got with the golden file at path, rewriting it
// under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after review)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
