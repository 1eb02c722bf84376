package gitsource

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/gitserver"
)

// must holds a call's result until get checks it: must(f()).get(t).
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

// get fails the test on the call's error and returns its value.
func (r result[T]) get(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// newServer starts a Git server over HTTP on loopback with one repository,
// "deploy", whose main branch holds the test chart.
func newServer(t testing.TB, http gitserver.HTTPOptions) (*gitserver.Server, *gitserver.Repo) {
	t.Helper()
	srv := must(gitserver.New(t.TempDir())).get(t)
	t.Cleanup(func() { _ = srv.Close() })
	repo := must(srv.CreateRepo("deploy")).get(t)
	must(repo.Commit("chart 0.3.1", gitserver.WithDir("testdata/chart", "chart"))).get(t)
	must(srv.StartHTTP(http)).get(t)
	return srv, repo
}

// newSource opens a source on url with a fresh cache unless opts sets one.
func newSource(t testing.TB, opts Options) *Source {
	t.Helper()
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	return must(New(opts)).get(t)
}

// next waits for the watcher's next update. The bound only keeps a broken
// test from hanging; nothing asserts how fast the update came.
func next(t testing.TB, ch <-chan Update) Update {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("no update from Watch within 30s")
	}
	return Update{}
}

// quiet asserts that the watcher emits nothing for a nudge. The nudge
// channel holds one: the third send can only go through once the watcher took
// the second, that is after the poll for the first ended, whatever it found.
func quiet(t testing.TB, s *Source, ch <-chan Update) {
	t.Helper()
	for range 3 {
		select {
		case s.nudge <- struct{}{}:
		case u := <-ch:
			t.Fatalf("unexpected update: %+v", u)
		case <-time.After(30 * time.Second):
			t.Fatal("watcher took no nudge within 30s")
		}
	}
}

// watch starts a watcher whose interval is long, so only nudges drive it.
func watch(t testing.TB, s *Source, last string) <-chan Update {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return must(s.Watch(ctx, WatchOptions{Interval: time.Hour, Last: last})).get(t)
}

// tree lists every file under dir with its modification time, to prove a
// poll wrote nothing.
func tree(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// snapshot calls Snapshot and fails the test on error.
func snapshot(t testing.TB, src *Source, sha, since string) (fs.FS, ferry.Revision) {
	t.Helper()
	fsys, rev, err := src.Snapshot(context.Background(), sha, since)
	if err != nil {
		t.Fatal(err)
	}
	return fsys, rev
}

func readFile(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	return string(b), err
}
