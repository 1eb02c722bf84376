package config

import "strings"

// source remembers where each key of a decoded file is, so that problems
// found after decoding point at the right line.
type source struct {
	file string
	// lines maps a path such as "pipelines[0].chart" to the line of its key
	// (or of the list item, for list elements).
	lines map[string]int
}

// line finds the line of path, or of its nearest ancestor that has one.
func (s *source) line(path string) int {
	if s == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath strips the last segment: a.b[2] → a.b, a.b → a,
// a["x.y"] → a.
func parentPath(p string) string {
	if strings.HasSuffix(p, `"]`) {
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	}
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			if i > 0 {
				return p[:i]
			}
			return ""
		}
	}
	return ""
}
