package gitserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KeyType names an SSH key algorithm family.
type KeyType string

// The key types a test can ask for, host keys and client keys alike.
const (
	KeyED25519 KeyType = "ed25519"
	KeyECDSA   KeyType = "ecdsa"
	KeyRSA     KeyType = "rsa"
)

// Key is a generated SSH key pair.
type Key struct {
	Signer ssh.Signer
	// PrivatePEM is the private key in OpenSSH PEM form, what a key file holds.
	PrivatePEM []byte
}

// GenerateKey makes a fresh key of the given type (RSA 2048, ECDSA P-256).
func GenerateKey(t KeyType) (Key, error) {
	var priv crypto.Signer
	var err error
	switch t {
	case KeyED25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case KeyECDSA:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return Key{}, fmt.Errorf("unknown key type %q (want ed25519, ecdsa or rsa)", t)
	}
	if err != nil {
		return Key{}, fmt.Errorf("generate %s key: %w", t, err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("%s signer: %w", t, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return Key{}, fmt.Errorf("marshal %s key: %w", t, err)
	}
	return Key{Signer: signer, PrivatePEM: pem.EncodeToMemory(block)}, nil
}

// KnownHostsLine is the known_hosts entry for a key served at addr
// (host:port), in the `[host]:port` form OpenSSH uses for ports other than 22.
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
}
