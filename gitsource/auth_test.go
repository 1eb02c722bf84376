package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/internal/gitserver"
	"golang.org/x/crypto/ssh"
)

func TestHTTPSTokenAuth(t *testing.T) {
	const token = "ghp_s3cr3t-token-value"
	srv, repo := newServer(t, gitserver.HTTPOptions{Token: token})
	head := must(repo.Head("main")).get(t)
	url := srv.HTTPURL("deploy")
	for _, tc := range []struct {
		name  string
		token string
		want  string // error; empty for success
	}{
		{name: "right token reads and fetches", token: token + "\n"},
		{name: "wrong token", token: "ghp_wrong", want: "list refs of " + url + ": authentication failed (check the token or SSH key, and that it may read this repository); the server said: authentication required: authentication required"},
		{name: "no token", token: "", want: "list refs of " + url + ": authentication failed (check the token or SSH key, and that it may read this repository); the server said: authentication required: authentication required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, Options{URL: url, Auth: Auth{Token: tc.token}})
			rev, err := src.Head(context.Background())
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("error = %v\nwant    %q", err, tc.want)
				}
				if !errors.Is(err, ErrAuthFailed) {
					t.Errorf("errors.Is(err, ErrAuthFailed) = false")
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tc.token)) && tc.token != "" {
					t.Errorf("error reveals the token: %v", err)
				}
				return
			}
			if err != nil || rev.SHA != head {
				t.Fatalf("Head = %s, %v; want %s", rev.SHA, err, head)
			}
			if err := src.Fetch(context.Background(), head); err != nil {
				t.Fatal(err)
			}
			fsys, _ := snapshot(t, src, head, "")
			if got := must(readFile(fsys, "chart/values-dev.yaml")).get(t); got != "replicaCount: 1\nimage:\n  tag: \"1.8.0-dev\"\n" {
				t.Errorf("values-dev.yaml = %q", got)
			}
		})
	}
}

// testKeyPassphrase decrypts testdata/encrypted_ed25519, a key made for
// these tests only.
const testKeyPassphrase = "testdata-passphrase"

// sshFixture is a server offering ed25519, ECDSA and RSA host keys, with one
// authorised client key.
type sshFixture struct {
	srv    *gitserver.Server
	repo   *gitserver.Repo
	host   map[gitserver.KeyType]gitserver.Key
	client gitserver.Key
}

func newSSHFixture(t *testing.T, hostTypes ...gitserver.KeyType) sshFixture {
	t.Helper()
	f := sshFixture{host: map[gitserver.KeyType]gitserver.Key{}}
	f.srv = must(gitserver.New(t.TempDir())).get(t)
	t.Cleanup(func() { _ = f.srv.Close() })
	f.repo = must(f.srv.CreateRepo("deploy")).get(t)
	must(f.repo.Commit("chart 0.3.1", gitserver.WithDir("testdata/chart", "chart"))).get(t)
	var signers []ssh.Signer
	for _, kt := range hostTypes {
		k := must(gitserver.GenerateKey(kt)).get(t)
		f.host[kt] = k
		signers = append(signers, k.Signer)
	}
	f.client = must(gitserver.GenerateKey(gitserver.KeyED25519)).get(t)
	encrypted := must(ssh.ParsePrivateKeyWithPassphrase(must(os.ReadFile("testdata/encrypted_ed25519")).get(t), []byte(testKeyPassphrase))).get(t)
	must(f.srv.StartSSH(gitserver.SSHOptions{HostKeys: signers,
		AuthorizedKeys: []ssh.PublicKey{f.client.Signer.PublicKey(), encrypted.PublicKey()}})).get(t)
	return f
}

func (f sshFixture) knownHosts(types ...gitserver.KeyType) []byte {
	var b strings.Builder
	for _, kt := range types {
		b.WriteString(gitserver.KnownHostsLine(f.srv.SSHAddr(), f.host[kt].Signer.PublicKey()))
	}
	return []byte(b.String())
}

func TestSSHHostKeyTypes(t *testing.T) {
	f := newSSHFixture(t, gitserver.KeyED25519, gitserver.KeyECDSA, gitserver.KeyRSA)
	head := must(f.repo.Head("main")).get(t)
	for _, tc := range []struct {
		kt    gitserver.KeyType
		algos []string
	}{
		{gitserver.KeyED25519, []string{"ssh-ed25519"}},
		{gitserver.KeyECDSA, []string{"ecdsa-sha2-nistp256"}},
		{gitserver.KeyRSA, []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
	} {
		t.Run(string(tc.kt)+" only in known_hosts", func(t *testing.T) {
			src := newSource(t, Options{URL: f.srv.SSHURL("deploy"), Auth: Auth{SSHKey: f.client.PrivatePEM, KnownHosts: f.knownHosts(tc.kt)}})
			if !slices.Equal(src.algos, tc.algos) {
				t.Errorf("host-key algorithms offered = %q, want %q", src.algos, tc.algos)
			}
			rev := must(src.Head(context.Background())).get(t)
			if rev.SHA != head {
				t.Fatalf("Head = %s, want %s", rev.SHA, head)
			}
			if err := src.Fetch(context.Background(), head); err != nil {
				t.Fatal(err)
			}
			fsys, rev := snapshot(t, src, head, "")
			if rev.Subject != "chart 0.3.1" {
				t.Errorf("subject = %q", rev.Subject)
			}
			if got := must(readFile(fsys, "chart/values-prod.yaml")).get(t); !strings.HasPrefix(got, "replicaCount: 3\n") {
				t.Errorf("values-prod.yaml = %q", got)
			}
		})
	}
}

func TestSSHEncryptedClientKey(t *testing.T) {
	f := newSSHFixture(t, gitserver.KeyECDSA)
	src := newSource(t, Options{URL: f.srv.SSHURL("deploy"), Auth: Auth{
		SSHKey: must(os.ReadFile("testdata/encrypted_ed25519")).get(t), SSHKeyPassphrase: testKeyPassphrase,
		KnownHosts: f.knownHosts(gitserver.KeyECDSA)}})
	rev := must(src.Head(context.Background())).get(t)
	if want := must(f.repo.Head("main")).get(t); rev.SHA != want {
		t.Errorf("Head = %s, want %s", rev.SHA, want)
	}
}

func TestSSHRefusals(t *testing.T) {
	f := newSSHFixture(t, gitserver.KeyED25519)
	addr := f.srv.SSHAddr()
	host := "[" + strings.Replace(addr, ":", "]:", 1)
	served := f.host[gitserver.KeyED25519].Signer.PublicKey()
	other := must(gitserver.GenerateKey(gitserver.KeyED25519)).get(t)
	rsaKey := must(gitserver.GenerateKey(gitserver.KeyRSA)).get(t)
	stranger := must(gitserver.GenerateKey(gitserver.KeyED25519)).get(t)
	url := f.srv.SSHURL("deploy")
	fp := ssh.FingerprintSHA256(served)

	for _, tc := range []struct {
		name       string
		knownHosts string
		clientKey  []byte
		want       string
		check      func(t *testing.T, err error)
	}{
		{
			name:       "wrong host key is refused with the offered fingerprint",
			knownHosts: gitserver.KnownHostsLine(addr, other.Signer.PublicKey()),
			clientKey:  f.client.PrivatePEM,
			want: fmt.Sprintf("list refs of %s: ssh host key of %s does not match known_hosts: the server offered ssh-ed25519 %s, known_hosts has ssh-ed25519 %s; the host key changed or this is not the right server",
				url, host, fp, ssh.FingerprintSHA256(other.Signer.PublicKey())),
			check: func(t *testing.T, err error) {
				var hk *HostKeyError
				if !errors.As(err, &hk) || hk.Fingerprint != fp || hk.Host != host {
					t.Errorf("HostKeyError = %+v", hk)
				}
			},
		},
		{
			name:       "unknown host is refused with the offered fingerprint",
			knownHosts: gitserver.KnownHostsLine("127.0.0.1:1", served),
			clientKey:  f.client.PrivatePEM,
			want: fmt.Sprintf("list refs of %s: ssh host key of %s is not in known_hosts: the server offered ssh-ed25519 %s; verify it and add it to known_hosts",
				url, host, fp),
		},
		{
			name:       "known_hosts lists only a type the server does not offer",
			knownHosts: gitserver.KnownHostsLine(addr, rsaKey.Signer.PublicKey()),
			clientKey:  f.client.PrivatePEM,
			want:       "list refs of " + url + ": the server offers none of the host-key types known_hosts lists for it (rsa-sha2-512, rsa-sha2-256, ssh-rsa): ssh: handshake failed: ssh: no common algorithm for host key; we offered: [\"rsa-sha2-512\" \"rsa-sha2-256\" \"ssh-rsa\"], peer offered: [\"ssh-ed25519\"]",
		},
		{
			name:       "client key not authorised",
			knownHosts: gitserver.KnownHostsLine(addr, served),
			clientKey:  stranger.PrivatePEM,
			want: "list refs of " + url + ": authentication failed (check the token or SSH key, and that it may read this repository); " +
				"the server said: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrAuthFailed) {
					t.Errorf("errors.Is(err, ErrAuthFailed) = false")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, Options{URL: url, Auth: Auth{SSHKey: tc.clientKey, KnownHosts: []byte(tc.knownHosts)}})
			_, err := src.Head(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v\nwant    %q", err, tc.want)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestRepositoryNotFound(t *testing.T) {
	f := newSSHFixture(t, gitserver.KeyED25519)
	must(f.srv.StartHTTP(gitserver.HTTPOptions{})).get(t)
	missingDir := t.TempDir() + "/missing.git"
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"http", Options{URL: f.srv.HTTPURL("nope")}},
		{"ssh", Options{URL: f.srv.SSHURL("nope"), Auth: Auth{SSHKey: f.client.PrivatePEM, KnownHosts: f.knownHosts(gitserver.KeyED25519)}}},
		{"local path", Options{URL: missingDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, tc.opts)
			_, err := src.Head(context.Background())
			want := "list refs of " + tc.opts.URL + ": repository not found (check the url)"
			if err == nil || err.Error() != want {
				t.Fatalf("error = %v\nwant    %q", err, want)
			}
			if !errors.Is(err, ErrRepositoryNotFound) {
				t.Errorf("errors.Is(err, ErrRepositoryNotFound) = false")
			}
		})
	}
}
