package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/internal/gitserver"
)

func TestOptionsRejected(t *testing.T) {
	key := must(gitserver.GenerateKey(gitserver.KeyED25519)).get(t)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"empty", Options{},
			"gitsource options: url: required\nbranch: required\ncacheDir: required"},
		{"full ref as branch", Options{URL: "https://git.example.com/a.git", Branch: "refs/heads/main", CacheDir: "c"},
			`gitsource options: branch "refs/heads/main": not a valid branch name (give the short name, e.g. main)`},
		{"token over plain http to a remote host", Options{URL: "http://git.example.com/a.git", Branch: "main", CacheDir: "c", Auth: Auth{Token: "t0ken"}},
			"gitsource options: auth: refusing to send a token over plain http to git.example.com; use https"},
		{"ssh without known_hosts", Options{URL: "ssh://git@git.example.com/a.git", Branch: "main", CacheDir: "c", Auth: Auth{SSHKey: key.PrivatePEM}},
			"gitsource options: auth.knownHosts: required for an ssh url (host keys are always verified)"},
		{"scp-like url without key", Options{URL: "git@git.example.com:team/a.git", Branch: "main", CacheDir: "c"},
			"gitsource options: auth.sshKey: required for an ssh url\nauth.knownHosts: required for an ssh url (host keys are always verified)"},
		{"token with ssh", Options{URL: "ssh://git@git.example.com/a.git", Branch: "main", CacheDir: "c",
			Auth: Auth{Token: "t0ken", SSHKey: key.PrivatePEM, KnownHosts: []byte("x")}},
			"gitsource options: auth: a token is set but the url is ssh; tokens go with https"},
		{"ssh key with https", Options{URL: "https://git.example.com/a.git", Branch: "main", CacheDir: "c", Auth: Auth{SSHKey: key.PrivatePEM}},
			"gitsource options: auth: an SSH key or known_hosts is set but the url is https"},
		{"credentials for a local path", Options{URL: "/srv/git/a.git", Branch: "main", CacheDir: "c", Auth: Auth{Token: "t0ken"}},
			"gitsource options: auth: credentials are set but the url is a local path"},
		{"ssh key that is not a key", Options{URL: "ssh://git@git.example.com/a.git", Branch: "main", CacheDir: "c",
			Auth: Auth{SSHKey: []byte("-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n"), KnownHosts: []byte("x")}},
			"gitsource options: auth.sshKey: not a usable private key: ssh: unsupported key type \"NOTHING\""},
		{"encrypted key without passphrase", Options{URL: "ssh://git@git.example.com/a.git", Branch: "main", CacheDir: "c",
			Auth: Auth{SSHKey: must(os.ReadFile("testdata/encrypted_ed25519")).get(t), KnownHosts: []byte("x")}},
			"gitsource options: auth.sshKey: the key is encrypted and no passphrase was given"},
		{"broken known_hosts line", Options{URL: "ssh://git@git.example.com/a.git", Branch: "main", CacheDir: "c",
			Auth: Auth{SSHKey: key.PrivatePEM, KnownHosts: []byte("# ok\ngit.example.com ssh-ed25519 not-base64!\n")}},
			"gitsource options: auth.knownHosts: knownhosts: known_hosts line:2: illegal base64 data at input byte 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %q", err, tc.want)
			}
			if tc.opts.Auth.Token != "" && strings.Contains(err.Error(), tc.opts.Auth.Token) {
				t.Errorf("error reveals the token")
			}
		})
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	srv, repo := newServer(t, gitserver.HTTPOptions{})
	head := must(repo.Head("main")).get(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	src := newSource(t, Options{URL: srv.HTTPURL("deploy"), CacheDir: cacheDir})
	if err := src.Fetch(context.Background(), head); err != nil {
		t.Fatal(err)
	}

	srv.ResetStats()
	again := newSource(t, Options{URL: srv.HTTPURL("deploy"), CacheDir: cacheDir})
	rev := must(again.Head(context.Background())).get(t)
	if rev.SHA != head || rev.Subject != "chart 0.3.1" {
		t.Errorf("Head after restart = %+v, want %s with its subject from the cache", rev, head)
	}
	if err := again.Fetch(context.Background(), head); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Negotiations != 0 || st.Advertisements != 1 {
		t.Errorf("restart cost %+v, want one advertisement and no fetch", st)
	}
}

func TestCacheDirOfSomethingElse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{URL: t.TempDir(), Branch: "main", CacheDir: dir})
	want := "cache " + dir + " is neither empty nor a Git repository; give ferry a directory of its own"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %q", err, want)
	}
}

func TestFetchRevisionGone(t *testing.T) {
	srv, repo := newServer(t, gitserver.HTTPOptions{})
	src := newSource(t, Options{URL: srv.HTTPURL("deploy")})
	head := must(repo.Head("main")).get(t)
	// A SHA the branch never had (the branch moved on meanwhile, say).
	gone := "89abcdef0123456789abcdef0123456789abcdef"
	err := src.Fetch(context.Background(), gone)
	want := "fetch " + srv.HTTPURL("deploy") + ": revision not found: " + gone + " is not on branch main (now at " + head + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %q", err, want)
	}
	if !errors.Is(err, ErrRevisionNotFound) {
		t.Error("errors.Is(err, ErrRevisionNotFound) = false")
	}
	if err := repo.DeleteBranch("main"); err != nil {
		t.Fatal(err)
	}
	var bnf *BranchNotFoundError
	if err := src.Fetch(context.Background(), "1111111111111111111111111111111111111111"); !errors.As(err, &bnf) {
		t.Fatalf("fetch of a deleted branch: %v, want *BranchNotFoundError", err)
	}
}
