package reconciler

import (
	"log/slog"
	"testing"
)

// testLogger sends the daemon's records to the test log, tagged with the
// replica's name.
func testLogger(t *testing.T, id string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", id)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
