package promote

import (
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the host's zoneinfo

	"github.com/ferry-gitops/ferry"
)

func TestWindowNextOpening(t *testing.T) {
	var cases []struct {
		Name     string      `json:"name"`
		Schedule string      `json:"schedule"`
		After    time.Time   `json:"after"`
		Want     []time.Time `json:"want"`
	}
	loadYAML(t, "windows.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			w, err := ParseWindow(tc.Schedule, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			at := tc.After
			for i, want := range tc.Want {
				got, ok := w.NextOpening(at)
				if !ok || !got.Equal(want) {
					t.Fatalf("opening %d after %s = %s (ok %v), want %s", i+1, at.Format(time.RFC3339), got.UTC().Format(time.RFC3339), ok, want.Format(time.RFC3339))
				}
				at = got
			}
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	var cases []struct {
		Schedule string `json:"schedule"`
		Duration string `json:"duration"`
		Want     string `json:"want"`
	}
	loadYAML(t, "window_errors.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Schedule, func(t *testing.T) {
			d, err := time.ParseDuration(tc.Duration)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseWindow(tc.Schedule, d)
			if err == nil || err.Error() != tc.Want {
				t.Fatalf("ParseWindow(%q) error = %v, want %q", tc.Schedule, err, tc.Want)
			}
		})
	}
}

func TestWindowGate(t *testing.T) {
	var cases []struct {
		Name    string `json:"name"`
		Windows []struct {
			Schedule string `json:"schedule"`
			Duration string `json:"duration"`
		} `json:"windows"`
		Now     time.Time     `json:"now"`
		Verdict ferry.Verdict `json:"verdict"`
		Reason  string        `json:"reason"`
		Until   time.Time     `json:"until"`
	}
	loadYAML(t, "window_gate.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var ws []Window
			for _, w := range tc.Windows {
				d, err := time.ParseDuration(w.Duration)
				if err != nil {
					t.Fatal(err)
				}
				pw, err := ParseWindow(w.Schedule, d)
				if err != nil {
					t.Fatal(err)
				}
				ws = append(ws, pw)
			}
			g := WindowGate(ws, tc.Now)
			if g.Gate != "window" || g.Verdict != tc.Verdict || g.Reason != tc.Reason || !g.Until.Equal(tc.Until) {
				t.Fatalf("WindowGate = %s %q until %s\nwant        %s %q until %s", g.Verdict, g.Reason, g.Until, tc.Verdict, tc.Reason, tc.Until)
			}
		})
	}
}
