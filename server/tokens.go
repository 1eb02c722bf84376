package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ferry-gitops/ferry/config"
)

// minTokenLength keeps guessable tokens out of the tokens file.
const minTokenLength = 16

// tokens maps API bearer tokens to ferry users. Only SHA-256 digests of the
// tokens are kept, so a heap dump or a stray %v never shows one, and every
// lookup compares against every digest in constant time.
type tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	user   string
}

// loadTokens reads server.apiTokensFile through config.ReadSecret: one
// "token user" pair per line; blank lines and lines starting with # are
// skipped. Errors name the file and line, never the token.
func loadTokens(ctx context.Context, log *slog.Logger, file string) (*tokens, error) {
	text, err := config.ReadSecret(ctx, log, file)
	if err != nil {
		return nil, fmt.Errorf("server.apiTokensFile: %w", err)
	}
	return parseTokens(file, text)
}

// parseTokens parses the tokens file's text; file names it in errors.
func parseTokens(file, text string) (*tokens, error) {
	t := &tokens{}
	seen := map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"token user\", found %d fields", file, n, len(fields))
		}
		if len(fields[0]) < minTokenLength {
			return nil, fmt.Errorf("%s:%d: token for %s is shorter than %d characters", file, n, fields[1], minTokenLength)
		}
		d := sha256.Sum256([]byte(fields[0]))
		if seen[d] {
			return nil, fmt.Errorf("%s:%d: token for %s repeats an earlier line's token", file, n, fields[1])
		}
		seen[d] = true
		t.entries = append(t.entries, tokenEntry{digest: d, user: fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("%s: no \"token user\" lines", file)
	}
	return t, nil
}

// user returns the user a token belongs to. It compares the token's digest
// with every entry, without stopping at a match, so the time taken tells
// nothing about which tokens exist.
func (t *tokens) user(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := ""
	for i := range t.entries {
		if subtle.ConstantTimeCompare(d[:], t.entries[i].digest[:]) == 1 {
			found = t.entries[i].user
		}
	}
	return found, found != ""
}
