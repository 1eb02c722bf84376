package gitsource

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// authFor builds the go-git auth method for the endpoint, or nil for
// anonymous access. For SSH it also returns the host-key algorithms offered,
// for messages.
func authFor(ep *transport.Endpoint, a Auth) (transport.AuthMethod, []string, error) {
	switch ep.Protocol {
	case "http", "https":
		token := strings.TrimSpace(a.Token)
		if token == "" {
			return nil, nil, nil
		}
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: token}, nil, nil
	case "ssh":
		return sshAuth(ep, a)
	}
	return nil, nil, nil
}

func sshAuth(ep *transport.Endpoint, a Auth) (transport.AuthMethod, []string, error) {
	var signer ssh.Signer
	var err error
	if a.SSHKeyPassphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(a.SSHKey, []byte(a.SSHKeyPassphrase))
	} else {
		signer, err = ssh.ParsePrivateKey(a.SSHKey)
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, nil, errors.New("auth.sshKey: the key is encrypted and no passphrase was given")
	case err != nil:
		// The parser's message says what is wrong with the format, never
		// the key's bytes.
		return nil, nil, fmt.Errorf("auth.sshKey: not a usable private key: %w", err)
	}
	kh, err := parseKnownHosts(a.KnownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("auth.knownHosts: %w", err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	algos := kh.algorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	user := ep.User
	if user == "" {
		user = "git"
	}
	return &gitssh.PublicKeys{
		User:   user,
		Signer: signer,
		// go-git fills the algorithms from known_hosts only when it builds
		// the callback itself; with ours it leaves them empty, and the
		// server would then present whichever key it prefers.
		HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{
			HostKeyCallback:   kh.callback(),
			HostKeyAlgorithms: algos,
		},
	}, algos, nil
}
