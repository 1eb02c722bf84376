package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// ErrSymlinkEscapes is the error (inside an *fs.PathError) for a symbolic
// link whose target leaves the repository, by `..` or an absolute path.
var ErrSymlinkEscapes = errors.New("symlink points outside the repository")

// maxSymlinkHops bounds link chains, as the kernel does, so a cycle ends.
const maxSymlinkHops = 40

// treeFS is the files of one commit, read from Git objects on demand. It
// implements fs.ReadFileFS, fs.ReadDirFS, fs.StatFS and fs.ReadLinkFS. Like
// os.DirFS, directory listings show links as links, and opening one follows it.
type treeFS struct {
	mu     sync.Mutex // go-git object reads are not safe for concurrent use
	root   *object.Tree
	storer storer.EncodedObjectStorer
	mtime  time.Time
}

// newTreeFS serves root; mtime (the commit time) is every file's ModTime.
func newTreeFS(st storer.EncodedObjectStorer, root *object.Tree, mtime time.Time) *treeFS {
	return &treeFS{root: root, storer: st, mtime: mtime}
}

// node is one resolved path: a directory (tree set) or anything else (entry set).
type node struct {
	name  string // base name
	tree  *object.Tree
	entry object.TreeEntry
}

// resolve looks name up, following links in every component, and in the last
// one too when follow is set.
func (f *treeFS) resolve(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	cur := name
	for hops := 0; ; hops++ {
		n, linkAt, rest, err := f.walk(cur, follow)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if linkAt == "" {
			return n, nil
		}
		if hops == maxSymlinkHops {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("too many levels of symbolic links at %s", linkAt)}
		}
		target, err := f.linkTarget(n.entry)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		next, ok := joinInside(path.Dir(linkAt), target, rest)
		if !ok {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: %s -> %s", ErrSymlinkEscapes, linkAt, target)}
		}
		cur = next
	}
}

// walk descends the tree along p. When it meets a link that must be followed,
// it returns it as linkAt (the link's own path) with the components after it.
func (f *treeFS) walk(p string, followLast bool) (n node, linkAt, rest string, err error) {
	n = node{name: ".", tree: f.root}
	if p == "." {
		return n, "", "", nil
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if n.tree == nil {
			return node{}, "", "", fmt.Errorf("%s: %w", path.Join(parts[:i]...), errNotDir)
		}
		entry, ok := findEntry(n.tree, part)
		if !ok {
			return node{}, "", "", fs.ErrNotExist
		}
		last := i == len(parts)-1
		switch entry.Mode {
		case filemode.Symlink:
			if !last || followLast {
				return node{entry: entry}, path.Join(parts[:i+1]...), strings.Join(parts[i+1:], "/"), nil
			}
			n = node{name: part, entry: entry}
		case filemode.Dir:
			t, err := n.tree.Tree(part)
			if err != nil {
				return node{}, "", "", fmt.Errorf("read tree %s: %w", path.Join(parts[:i+1]...), err)
			}
			n = node{name: part, tree: t}
		case filemode.Submodule:
			return node{}, "", "", fmt.Errorf("%s is a submodule, which a snapshot does not include", path.Join(parts[:i+1]...))
		default:
			n = node{name: part, entry: entry}
		}
	}
	return n, "", "", nil
}

var errNotDir = errors.New("not a directory")

func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// joinInside applies a link target relative to the link's directory and
// reports whether the result stays inside the tree.
func joinInside(dir, target, rest string) (string, bool) {
	if target == "" || strings.HasPrefix(target, "/") {
		return "", false
	}
	p := path.Join(dir, target, rest)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

func (f *treeFS) linkTarget(e object.TreeEntry) (string, error) {
	b, err := f.blobBytes(e)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (f *treeFS) blobBytes(e object.TreeEntry) ([]byte, error) {
	blob, err := object.GetBlob(f.storer, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (f *treeFS) blobSize(e object.TreeEntry) (int64, error) {
	blob, err := object.GetBlob(f.storer, e.Hash)
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", e.Hash, err)
	}
	return blob.Size, nil
}

// Open opens the named file or directory, following links inside the tree.
func (f *treeFS) Open(name string) (fs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.tree != nil {
		entries, err := f.entries(n.tree)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{info: f.dirInfo(n.name), entries: entries}, nil
	}
	b, err := f.blobBytes(n.entry)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &treeFile{info: f.fileInfo(n.name, n.entry.Mode, int64(len(b))), r: bytes.NewReader(b)}, nil
}

// ReadFile returns the content of the named file, following links.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("read", name, true)
	if err != nil {
		return nil, err
	}
	if n.tree != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := f.blobBytes(n.entry)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir lists the named directory sorted by name; links appear as links.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.tree == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	entries, err := f.entries(n.tree)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return entries, nil
}

// Stat describes the named file, following links.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	return f.stat("stat", name, true)
}

// Lstat describes the named file without following a final link.
func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	return f.stat("lstat", name, false)
}

func (f *treeFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve(op, name, follow)
	if err != nil {
		return nil, err
	}
	if n.tree != nil {
		return f.dirInfo(n.name), nil
	}
	size, err := f.blobSize(n.entry)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return f.fileInfo(n.name, n.entry.Mode, size), nil
}

// ReadLink returns a link's target as written, even one that leaves the tree.
func (f *treeFS) ReadLink(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.tree != nil || n.entry.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	target, err := f.linkTarget(n.entry)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return target, nil
}

func (f *treeFS) entries(t *object.Tree) ([]fs.DirEntry, error) {
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir:
			out = append(out, fs.FileInfoToDirEntry(f.dirInfo(e.Name)))
		case filemode.Submodule:
			// A submodule's files are not in this repository's objects.
			continue
		default:
			size, err := f.blobSize(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name, err)
			}
			out = append(out, fs.FileInfoToDirEntry(f.fileInfo(e.Name, e.Mode, size)))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (f *treeFS) dirInfo(name string) fs.FileInfo {
	return fileInfo{name: name, mode: fs.ModeDir | 0o755, mtime: f.mtime}
}

func (f *treeFS) fileInfo(name string, m filemode.FileMode, size int64) fs.FileInfo {
	mode := fs.FileMode(0o644)
	switch m {
	case filemode.Executable:
		mode = 0o755
	case filemode.Symlink:
		mode = fs.ModeSymlink | 0o777
	}
	return fileInfo{name: name, size: size, mode: mode, mtime: f.mtime}
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

// treeFile is an opened regular file; its content was read on open.
type treeFile struct {
	info fs.FileInfo
	r    *bytes.Reader
}

func (t *treeFile) Stat() (fs.FileInfo, error) { return t.info, nil }
func (t *treeFile) Read(p []byte) (int, error) { return t.r.Read(p) }
func (t *treeFile) Close() error               { return nil }

// ReadAt and Seek let callers such as http.FileServer read ranges.
func (t *treeFile) ReadAt(p []byte, off int64) (int, error)   { return t.r.ReadAt(p, off) }
func (t *treeFile) Seek(off int64, whence int) (int64, error) { return t.r.Seek(off, whence) }

// treeDir is an opened directory.
type treeDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	next    int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}
func (d *treeDir) Close() error { return nil }

// ReadDir follows the fs.ReadDirFile contract: n > 0 reads in batches and
// gives io.EOF at the end; n <= 0 returns all that is left.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	left := d.entries[d.next:]
	if n <= 0 {
		d.next = len(d.entries)
		return slices.Clone(left), nil
	}
	if len(left) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(left))
	d.next += n
	return slices.Clone(left[:n]), nil
}
