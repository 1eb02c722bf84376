package gitsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Fetch makes sure the cache holds commit sha and everything it needs. When
// the commit is already cached it returns at once without a network call
// (a branch force-pushed back to an older commit costs nothing). Otherwise it
// fetches the branch with its full history under a forced refspec, so a
// branch that moved to an unrelated history, or several commits at once, are
// fetched like any other change; a shallow fetch would break on both.
//
// It gives ErrRevisionNotFound when the branch no longer leads to sha (it
// moved again meanwhile: read Head again).
func (s *Source) Fetch(ctx context.Context, sha string) error {
	hash, err := parseSHA(sha)
	if err != nil {
		return err
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	repo, err := s.open()
	if err != nil {
		return fmt.Errorf("open cache %s: %w", s.cacheDir, err)
	}
	if _, err := repo.CommitObject(hash); err == nil {
		return nil
	}
	tracking := plumbing.NewRemoteReferenceName("origin", s.branch)
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{s.url}})
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + s.ref.String() + ":" + tracking.String())},
		Auth:     s.auth,
		Tags:     git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) || strings.Contains(err.Error(), "couldn't find remote ref") {
			// The branch is gone: Head says so with the branches that exist.
			if _, headErr := s.Head(ctx); headErr != nil {
				return headErr
			}
		}
		return s.explain(err, "fetch")
	}
	if _, err := repo.CommitObject(hash); err != nil {
		at := "unknown"
		if ref, refErr := repo.Reference(tracking, true); refErr == nil {
			at = ref.Hash().String()
		}
		return fmt.Errorf("fetch %s: %w: %s is not on branch %s (now at %s)", s.safeURL, ErrRevisionNotFound, sha, s.branch, at)
	}
	s.log.DebugContext(ctx, "fetched", "revision", sha)
	return nil
}

// parseSHA accepts a full 40-digit hexadecimal commit hash.
func parseSHA(sha string) (plumbing.Hash, error) {
	if len(sha) != 40 || strings.Trim(strings.ToLower(sha), "0123456789abcdef") != "" {
		return plumbing.ZeroHash, fmt.Errorf("revision %q: want a full 40-digit commit SHA", sha)
	}
	return plumbing.NewHash(sha), nil
}

// explain classifies a transport error and, where the SSH handshake found no
// host-key type in common, says which types known_hosts lists.
func (s *Source) explain(err error, op string) error {
	if strings.Contains(err.Error(), "no common algorithm for host key") {
		return fmt.Errorf("%s %s: the server offers none of the host-key types known_hosts lists for it (%s): %w",
			op, s.safeURL, strings.Join(s.algos, ", "), err)
	}
	return classify(err, op, s.safeURL)
}
