package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpListsEveryCommandWithExamples walks the whole command tree:
// ferry --help lists every command the issue names, each parent's help
// lists each child with its one-line description, and every command has an
// example that starts with its own command line and shows under Examples
// in its help.
func TestHelpListsEveryCommandWithExamples(t *testing.T) {
	root := newRootCmd()
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && c.Name() != "help" && c.Name() != "completion" {
			names = append(names, c.Name())
		}
	}
	want := []string{"approve", "config", "diff", "history", "pause", "promote", "reject", "render", "resume", "run", "status", "version"}
	if !slices.Equal(names, want) {
		t.Errorf("ferry's commands = %q, want %q", names, want)
	}
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		help := helpOf(t, c)
		if !strings.Contains(help, "Examples:\n  ferry ") {
			t.Errorf("%s --help shows no examples:\n%s", c.CommandPath(), help)
		}
		if !strings.HasPrefix(c.Example, "  "+c.CommandPath()) {
			t.Errorf("%s: example %q does not start with %q", c.CommandPath(), c.Example, "  "+c.CommandPath())
		}
		for _, line := range strings.Split(c.Example, "\n") {
			words := strings.Fields(line)
			for len(words) > 0 && strings.Contains(words[0], "=") {
				words = words[1:] // environment variables before the command
			}
			if !strings.HasPrefix(line, "  ") || len(words) < 2 || words[0] != "ferry" {
				t.Errorf("%s: example line %q is not a ferry command line indented by two spaces", c.CommandPath(), line)
			}
		}
		if strings.TrimSpace(c.Short) == "" || strings.Contains(c.Short, "\n") {
			t.Errorf("%s: short description %q is not one line", c.CommandPath(), c.Short)
		}
		checked++
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if !listed(help, sub.Name(), sub.Short) {
				t.Errorf("%s --help does not list %q with %q:\n%s", c.CommandPath(), sub.Name(), sub.Short, help)
			}
			walk(sub)
		}
	}
	walk(root)
	// root, 12 commands, config's validate and schema.
	if checked != 15 {
		t.Errorf("checked %d commands, want 15", checked)
	}
}

// helpOf runs `<command path> --help` from a fresh tree and returns what
// it prints.
func helpOf(t *testing.T, c *cobra.Command) string {
	t.Helper()
	args := append(strings.Fields(c.CommandPath())[1:], "--help")
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

// listed reports whether help has a command line "  NAME   SHORT".
func listed(help, name, short string) bool {
	for _, line := range strings.Split(help, "\n") {
		rest, ok := strings.CutPrefix(line, "  "+name+" ")
		if ok && strings.TrimSpace(rest) == short {
			return true
		}
	}
	return false
}
