package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
)

func TestAge(t *testing.T) {
	now := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{10 * time.Minute, "10m"},
		{10*time.Minute + 5*time.Second, "10m5s"},
		{3*time.Hour + 12*time.Minute, "3h12m"},
		{50 * time.Hour, "2d2h"},
		{48 * time.Hour, "2d"},
		{-time.Minute, "0s"}, // a server clock ahead of ours
	}
	for _, tt := range tests {
		if got := age(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("age(%s ago) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := age(time.Time{}, now); got != "-" {
		t.Errorf("age(zero) = %q, want -", got)
	}
}

func TestStatusTableShowsPausedAndEmptyEnvironments(t *testing.T) {
	now := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	sts := []ferry.EnvironmentStatus{
		{Pipeline: "shop", Environment: "dev"},
		{Pipeline: "shop", Environment: "prod", Current: ferry.Revision{SHA: "1a2b3c4d5e"}, Phase: ferry.PhaseWaiting, Since: now.Add(-time.Hour),
			Paused: true, WaitingFor: "window opens 2025-03-05T08:00Z"},
		{Pipeline: "shop", Environment: "qa", Current: ferry.Revision{SHA: "1a2b3c4d5e"}, Phase: ferry.PhaseSucceeded, Since: now.Add(-time.Hour), Paused: true},
	}
	var b bytes.Buffer
	if err := printStatusTable(&b, sts, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"PIPELINE   ENV    REVISION   PHASE       SINCE   WAITING FOR\n" +
		"shop       dev    -          -           -       -\n" +
		"shop       prod   1a2b3c4    Waiting     1h      paused; window opens 2025-03-05T08:00Z\n" +
		"shop       qa     1a2b3c4    Succeeded   1h      paused\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// After a rejection the environment still runs what it ran: the table says
// which revision the phase belongs to.
func TestStatusTableNamesTheRevisionOfAnEndedPhase(t *testing.T) {
	now := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	rejected := ferry.Promotion{Revision: ferry.Revision{SHA: "9f8e7d6c5b"}, Phase: ferry.PhaseRejected}
	succeeded := ferry.Promotion{Revision: ferry.Revision{SHA: "1a2b3c4d5e"}, Phase: ferry.PhaseSucceeded}
	sts := []ferry.EnvironmentStatus{
		{Pipeline: "shop", Environment: "prod", Current: ferry.Revision{SHA: "1a2b3c4d5e"}, Phase: ferry.PhaseRejected, Since: now.Add(-time.Minute), Last: &rejected},
		{Pipeline: "shop", Environment: "qa", Current: ferry.Revision{SHA: "1a2b3c4d5e"}, Phase: ferry.PhaseSucceeded, Since: now.Add(-time.Hour), Last: &succeeded},
	}
	var b bytes.Buffer
	if err := printStatusTable(&b, sts, now); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"PIPELINE   ENV    REVISION   PHASE                SINCE   WAITING FOR\n" +
		"shop       prod   1a2b3c4    Rejected (9f8e7d6)   1m      -\n" +
		"shop       qa     1a2b3c4    Succeeded            1h      -\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
