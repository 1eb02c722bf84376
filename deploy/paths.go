package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// ErrPathOutsideRepo is wrapped by every error about a configured path that
// would leave the repository: absolute, climbing with "..", or through a
// symbolic link that points outside. Such input is a bad spec, not a
// transient failure.
var ErrPathOutsideRepo = errors.New("path leaves the repository")

// maxLinkHops bounds symlink resolution, as the kernel does, so a link cycle
// is an error rather than a hang.
const maxLinkHops = 40

// cleanRepoPath checks a path from the config before anything is read: it
// must be relative to the repository root and must not climb out of it.
// It returns the path in fs.FS form (slash-separated, no leading "./").
func cleanRepoPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':') {
		return "", fmt.Errorf("%q is absolute: %w", p, ErrPathOutsideRepo)
	}
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%q climbs with \"..\": %w", p, ErrPathOutsideRepo)
		}
	}
	clean := path.Clean(p)
	if !fs.ValidPath(clean) {
		return "", fmt.Errorf("%q is not a valid repository path", p)
	}
	return clean, nil
}

// resolveInRepo follows the symbolic links along name (already cleaned) and
// returns the path it really names inside fsys, refusing any link whose
// target is absolute or climbs above the root. A file system that cannot
// report links (fs.ReadLinkFS) has none to follow.
func resolveInRepo(fsys fs.FS, name string) (string, error) {
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		return name, nil
	}
	pending := strings.Split(name, "/")
	var done []string
	hops := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		if part == "." || part == "" {
			continue
		}
		if part == ".." {
			if len(done) == 0 {
				return "", fmt.Errorf("a symbolic link leads above the repository root: %w", ErrPathOutsideRepo)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, done...), part)...)
		info, err := fs.Lstat(fsys, cur)
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		hops++
		if hops > maxLinkHops {
			return "", errors.New("too many symbolic links")
		}
		target, err := fs.ReadLink(fsys, cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) || (len(target) > 1 && target[1] == ':') {
			return "", fmt.Errorf("%s is a symbolic link to an absolute path: %w", cur, ErrPathOutsideRepo)
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// repoPath cleans and resolves a configured path in one step.
func repoPath(fsys fs.FS, p string) (string, error) {
	clean, err := cleanRepoPath(p)
	if err != nil {
		return "", err
	}
	real, err := resolveInRepo(fsys, clean)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return real, nil
}
