package chat

import (
	"context"
	"strings"
	"testing"
)

func TestConsolePrintsTheStory(t *testing.T) {
	var out strings.Builder
	c := NewConsole(&out, nil)
	for _, ev := range loadEvents(t, "story.json") {
		if err := c.Notify(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "story-console.txt", out.String())
}

func TestConsoleCutsLongDiffs(t *testing.T) {
	var out strings.Builder
	ev := revEvent("Diff", "dev")
	ev.Diff = strings.Repeat("+ x\n", 100)
	if err := NewConsole(&out, nil).Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 42 || lines[41] != "    … 60 more lines" {
		t.Errorf("got %d lines ending %q, want 42 ending %q", len(lines), lines[len(lines)-1], "    … 60 more lines")
	}
}
