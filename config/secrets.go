package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// ReadSecret reads a secret from its file, trimmed of surrounding
// whitespace. A missing, unreadable or empty file is an error naming the
// file; a file that every user may read is logged as a warning. The
// secret itself never appears in an error or a log.
func ReadSecret(ctx context.Context, log *slog.Logger, file string) (string, error) {
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("secret file %s does not exist", file)
	case err != nil:
		return "", fmt.Errorf("secret file %s: %w", file, err)
	case info.IsDir():
		return "", fmt.Errorf("secret file %s is a directory", file)
	}
	if info.Mode().Perm()&0o004 != 0 {
		log.WarnContext(ctx, "secret file is readable by every user; restrict it with chmod o-r", "file", file, "mode", info.Mode().Perm().String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("secret file %s: %w", file, err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("secret file %s is empty", file)
	}
	return secret, nil
}

// SecretFile is one secret file the config refers to, with the path of the key.
type SecretFile struct {
	Path string
	File string
}

// SecretFiles lists every secret file the config refers to, in file order.
func (c *Config) SecretFiles() []SecretFile {
	var out []SecretFile
	add := func(path, file string) {
		if file != "" {
			out = append(out, SecretFile{Path: path, File: file})
		}
	}
	for i, p := range c.Pipelines {
		path := fmt.Sprintf("pipelines[%d].source", i)
		add(path+".auth.tokenFile", p.Source.Auth.TokenFile)
		add(path+".auth.sshKeyFile", p.Source.Auth.SSHKeyFile)
		if p.Source.Webhook != nil {
			add(path+".webhook.secretFile", p.Source.Webhook.SecretFile)
		}
	}
	if s := c.Chat.Slack; s != nil {
		add("chat.slack.tokenFile", s.TokenFile)
		add("chat.slack.signingSecretFile", s.SigningSecretFile)
	}
	add("server.apiTokensFile", c.Server.APITokensFile)
	return out
}

// CheckSecrets reads every secret file once, as the daemon does at start,
// and returns Problems naming each file that cannot be used. Warnings about
// world-readable files go to log.
func (c *Config) CheckSecrets(ctx context.Context, log *slog.Logger) error {
	var problems Problems
	for _, s := range c.SecretFiles() {
		if _, err := ReadSecret(ctx, log, s.File); err != nil {
			p := Problem{Path: s.Path, Message: err.Error()}
			if c.src != nil {
				p.File, p.Line = c.src.file, c.src.line(s.Path)
			}
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return problems
	}
	return nil
}
