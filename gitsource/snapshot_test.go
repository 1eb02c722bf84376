package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/gitserver"
)

// fetched returns a source over a local path that has fetched main's head.
func fetched(t *testing.T, repo *gitserver.Repo) (*Source, string) {
	t.Helper()
	src := newSource(t, Options{URL: repo.Dir()})
	head := must(src.Head(context.Background())).get(t)
	if err := src.Fetch(context.Background(), head.SHA); err != nil {
		t.Fatal(err)
	}
	return src, head.SHA
}

func TestSnapshotGivesExactBytes(t *testing.T) {
	srv := must(gitserver.New(t.TempDir())).get(t)
	repo := must(srv.CreateRepo("deploy")).get(t)
	must(repo.Commit("chart", gitserver.WithDir("testdata/chart", "chart"),
		gitserver.WithFile("binary.bin", "\x00\x01\xff\xfe\r\n"),
		gitserver.WithExecutable("scripts/smoke.sh", "#!/bin/sh\nexit 0\n"))).get(t)
	src, sha := fetched(t, repo)
	fsys, rev := snapshot(t, src, sha, "")
	if rev.SHA != sha || rev.Subject != "chart" || rev.ChangedFiles != nil {
		t.Errorf("revision = %+v", rev)
	}

	var want []string
	err := filepath.WalkDir("testdata/chart", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := must(filepath.Rel("testdata/chart", p)).get(t)
		name := "chart/" + filepath.ToSlash(rel)
		want = append(want, name)
		disk := must(os.ReadFile(p)).get(t)
		got, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Errorf("read %s: %v", name, err)
			return nil
		}
		if string(got) != string(disk) {
			t.Errorf("%s: got %q, want %q", name, got, disk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := must(readFile(fsys, "binary.bin")).get(t); got != "\x00\x01\xff\xfe\r\n" {
		t.Errorf("binary.bin = %q", got)
	}
	info := must(fs.Stat(fsys, "scripts/smoke.sh")).get(t)
	if info.Mode() != 0o755 || info.Size() != 17 || !info.ModTime().Equal(rev.Time) {
		t.Errorf("smoke.sh: mode %v size %d mtime %v", info.Mode(), info.Size(), info.ModTime())
	}
	want = append(want, "binary.bin", "scripts/smoke.sh")
	// fstest checks the fs.FS contracts (Open, ReadDir batches, Stat, ReadFile,
	// Lstat/ReadLink) and that exactly these files exist.
	if err := fstest.TestFS(fsys, want...); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotSymlinks(t *testing.T) {
	srv := must(gitserver.New(t.TempDir())).get(t)
	repo := must(srv.CreateRepo("deploy")).get(t)
	must(repo.Commit("links",
		gitserver.WithFile("chart/values.yaml", "replicaCount: 1\n"),
		gitserver.WithSymlink("chart/values-dev.yaml", "values.yaml"),
		gitserver.WithSymlink("chart/templates/common.yaml", "../values.yaml"),
		gitserver.WithSymlink("shared", "chart"),
		gitserver.WithSymlink("escape", "../outside"),
		gitserver.WithSymlink("chart/deep-escape", "../../outside/secret"),
		gitserver.WithSymlink("absolute", "/etc/passwd"),
		gitserver.WithSymlink("loop-a", "loop-b"),
		gitserver.WithSymlink("loop-b", "loop-a"),
	)).get(t)
	src, sha := fetched(t, repo)
	fsys, _ := snapshot(t, src, sha, "")

	for _, tc := range []struct {
		name    string
		want    string // content when the link resolves
		wantErr string // exact error otherwise
		escapes bool
	}{
		{name: "chart/values-dev.yaml", want: "replicaCount: 1\n"},
		{name: "chart/templates/common.yaml", want: "replicaCount: 1\n"},
		{name: "shared/values.yaml", want: "replicaCount: 1\n"},
		{name: "shared/values-dev.yaml", want: "replicaCount: 1\n"},
		{name: "escape", wantErr: "read escape: symlink points outside the repository: escape -> ../outside", escapes: true},
		{name: "chart/deep-escape", wantErr: "read chart/deep-escape: symlink points outside the repository: chart/deep-escape -> ../../outside/secret", escapes: true},
		{name: "absolute", wantErr: "read absolute: symlink points outside the repository: absolute -> /etc/passwd", escapes: true},
		{name: "loop-a", wantErr: "read loop-a: too many levels of symbolic links at loop-a"},
		{name: "missing.yaml", wantErr: "read missing.yaml: file does not exist"},
		{name: "../outside", wantErr: "read ../outside: invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readFile(fsys, tc.name)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ReadFile = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("ReadFile error = %v\nwant %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrSymlinkEscapes) != tc.escapes {
				t.Errorf("errors.Is(err, ErrSymlinkEscapes) = %v, want %v", !tc.escapes, tc.escapes)
			}
			if _, err := fsys.Open(tc.name); err == nil {
				t.Errorf("Open(%s) succeeded", tc.name)
			}
		})
	}

	// Listings show links as links without following them, and ReadLink
	// gives the target as written.
	entries := must(fs.ReadDir(fsys, ".")).get(t)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name()+":"+e.Type().String())
	}
	wantNames := "absolute:L--------- chart:d--------- escape:L--------- loop-a:L--------- loop-b:L--------- shared:L---------"
	if got := strings.Join(names, " "); got != wantNames {
		t.Errorf("ReadDir(.) = %s\nwant        %s", got, wantNames)
	}
	if got := must(fs.ReadLink(fsys, "escape")).get(t); got != "../outside" {
		t.Errorf("ReadLink(escape) = %q", got)
	}
}

func TestSnapshotErrors(t *testing.T) {
	srv := must(gitserver.New(t.TempDir())).get(t)
	repo := must(srv.CreateRepo("deploy")).get(t)
	must(repo.Commit("one", gitserver.WithFile("a", "1"))).get(t)
	src, sha := fetched(t, repo)
	unknown := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name, sha, since string
		want             string
		notFound         bool
	}{
		{"short sha", "abc123", "", `revision "abc123": want a full 40-digit commit SHA`, false},
		{"commit not cached", unknown, "", "snapshot: revision not found: " + unknown + " is not in the cache (fetch it first): object not found", true},
		{"since not cached", sha, unknown, "snapshot " + sha + ": files changed since " + unknown + ": revision not found: " + unknown + " is not in the cache", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := src.Snapshot(context.Background(), tc.sha, tc.since)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %q", err, tc.want)
			}
			if errors.Is(err, ErrRevisionNotFound) != tc.notFound {
				t.Errorf("errors.Is(ErrRevisionNotFound) = %v", !tc.notFound)
			}
		})
	}
}

// A commit of generated files must not swell the revision that durable state
// keeps for every promotion: the list stops at ferry.MaxChangedFiles, sorted,
// and the rest are counted.
func TestSnapshotCapsChangedFiles(t *testing.T) {
	srv := must(gitserver.New(t.TempDir())).get(t)
	repo := must(srv.CreateRepo("deploy")).get(t)
	first := must(repo.Commit("chart", gitserver.WithFile("values.yaml", "a: 1\n"))).get(t)
	const total = ferry.MaxChangedFiles + 57
	var opts []gitserver.CommitOption
	for i := range total {
		opts = append(opts, gitserver.WithFile(fmt.Sprintf("docs/page-%04d.md", i), "page\n"))
	}
	second := must(repo.Commit("docs", opts...)).get(t)
	src, _ := fetched(t, repo)
	_, rev := snapshot(t, src, second, first)
	if len(rev.ChangedFiles) != ferry.MaxChangedFiles || rev.ChangedFilesMore != 57 {
		t.Fatalf("changed files: %d listed and %d more, want %d and 57", len(rev.ChangedFiles), rev.ChangedFilesMore, ferry.MaxChangedFiles)
	}
	if rev.ChangedFiles[0] != "docs/page-0000.md" || rev.ChangedFiles[ferry.MaxChangedFiles-1] != fmt.Sprintf("docs/page-%04d.md", ferry.MaxChangedFiles-1) {
		t.Errorf("changed files run from %s to %s, want the first %d in order", rev.ChangedFiles[0], rev.ChangedFiles[len(rev.ChangedFiles)-1], ferry.MaxChangedFiles)
	}
}
