package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong in a config file, located by file, line and
// the path of the key (pipelines[0].environments[2].gates.loadTest.rate).
type Problem struct {
	File    string
	Line    int
	Path    string
	Message string
}

// String formats the problem as file:line: path: message, leaving out what
// is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a config file, in file order. Load and
// Validate return it as their error; use errors.As to list the problems.
type Problems []Problem

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by line, keeping the order they were found in
// within a line.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// maxProblems bounds the problems listed: past it, a file is more likely
// the wrong file than a config with that many mistakes.
const maxProblems = 100

// paths lists the paths problems were reported at.
func (ps Problems) paths() map[string]bool {
	m := make(map[string]bool, len(ps))
	for _, p := range ps {
		m[p.Path] = true
	}
	return m
}

// covered reports whether a problem was already reported at path or at one
// of its ancestors, so that a key that failed to decode is not reported again
// by validation with a less useful message.
func covered(reported map[string]bool, path string) bool {
	for p := path; p != ""; p = parentPath(p) {
		if reported[p] {
			return true
		}
	}
	return false
}

// capped keeps the first maxProblems problems and says how many it left out.
func (ps Problems) capped(file string) Problems {
	if len(ps) <= maxProblems {
		return ps
	}
	more := len(ps) - maxProblems
	return append(ps[:maxProblems:maxProblems], Problem{File: file, Message: fmt.Sprintf("%d more problems not listed", more)})
}
