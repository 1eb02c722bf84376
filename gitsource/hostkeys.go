package gitsource

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts verifies SSH host keys against the content of a known_hosts file.
type knownHosts struct {
	check ssh.HostKeyCallback
}

// parseKnownHosts reads known_hosts content. x/crypto's parser reads files
// only, so the content passes through a temporary file that is removed at
// once (known_hosts holds public keys, nothing secret).
func parseKnownHosts(content []byte) (*knownHosts, error) {
	f, err := os.CreateTemp("", "ferry-known-hosts-*")
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), f.Name(), "known_hosts line"))
	}
	return &knownHosts{check: cb}, nil
}

// keysFor returns the keys known_hosts lists for hostport (host:port).
// The x/crypto database answers only "does this key match", so it is asked
// about a key that matches nothing; the mismatch error lists the known keys.
func (k *knownHosts) keysFor(hostport string) []ssh.PublicKey {
	err := k.check(hostport, stringAddr(hostport), probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	keys := make([]ssh.PublicKey, 0, len(ke.Want))
	for _, w := range ke.Want {
		keys = append(keys, w.Key)
	}
	return keys
}

// algorithms returns the host-key algorithms to offer for hostport: those of
// the keys known_hosts lists for it, so a server with several host keys shows
// the one the file can verify. nil (the library's defaults) when none are listed.
func (k *knownHosts) algorithms(hostport string) []string {
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, key := range k.keysFor(hostport) {
		if key.Type() == ssh.KeyAlgoRSA {
			// One RSA key verifies under three signature algorithms; the
			// SHA-2 ones first, as OpenSSH prefers.
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			continue
		}
		add(key.Type())
	}
	return algos
}

// callback verifies the server's key and, on failure, says which key the
// server offered and what known_hosts expected.
func (k *knownHosts) callback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := k.check(hostname, remote, key)
		if err == nil {
			return nil
		}
		hkErr := &HostKeyError{
			Host:        knownhosts.Normalize(hostname),
			Algorithm:   key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key),
		}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke):
			for _, w := range ke.Want {
				hkErr.Known = append(hkErr.Known, w.Key.Type()+" "+ssh.FingerprintSHA256(w.Key))
			}
			return hkErr
		case errors.As(err, &re):
			return fmt.Errorf("ssh host key of %s (%s %s) is marked revoked in known_hosts", hkErr.Host, hkErr.Algorithm, hkErr.Fingerprint)
		}
		return fmt.Errorf("verify ssh host key of %s: %w", hkErr.Host, err)
	}
}

// probeKey is an all-zero ed25519 key: no real host has it.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

// stringAddr is a net.Addr for a host:port that needs no resolving.
type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
