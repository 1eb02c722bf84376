package chat

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

const (
	testToken   = "xoxb-test-token"
	testChannel = slackserver.DefaultChannel
	testSHA     = "3f2c1a9d8e7b6a5f4e3d2c1b0a99887766554433"
)

// loadEvents reads a JSON list of events from testdata.
func loadEvents(t *testing.T, name string) []ferry.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var evs []ferry.Event
	if err := json.Unmarshal(b, &evs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return evs
}

// golden compares got with testdata/golden/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file (run with -update after review)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// waits is a Sleeper that records the waits instead of sleeping.
type waits struct {
	mu  sync.Mutex
	got []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, d)
	return nil
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.got...)
}

// newTestSlack starts a Slack-protocol server and a notifier pointed at it.
func newTestSlack(t *testing.T, tweak func(*SlackOptions)) (*Slack, *slackserver.Server, *waits) {
	t.Helper()
	srv := slackserver.New(testToken)
	t.Cleanup(srv.Close)
	w := &waits{}
	opts := SlackOptions{
		Token: testToken, Channel: testChannel, APIURL: srv.APIURL(),
		Environments: map[string][]string{"web": {"dev", "staging", "prod"}},
		Sleep:        w.sleep, RequestTimeout: 2 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	n, err := NewSlack(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n, srv, w
}

// revEvent is a minimal event for the test revision.
func revEvent(kind ferry.EventKind, env string) ferry.Event {
	return ferry.Event{
		Kind: kind, Time: time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC), Pipeline: "web", Environment: env,
		Revision: ferry.Revision{SHA: testSHA, Subject: "Raise web replicas to 3", Author: "Alice Example"},
	}
}
