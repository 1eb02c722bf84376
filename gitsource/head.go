package gitsource

import (
	"context"
	"errors"
	"slices"

	"github.com/ferry-gitops/ferry"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Head reads the branch's current commit from the server's ref advertisement
// alone (what `git ls-remote` does): no objects are transferred and nothing is
// written. When the commit is already cached, its subject, author and time are
// filled in; otherwise only SHA is set until Fetch brings it.
//
// A branch that does not exist gives *BranchNotFoundError; the errors
// ErrAuthFailed, ErrRepositoryNotFound and *HostKeyError say what to fix.
func (s *Source) Head(ctx context.Context) (ferry.Revision, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{s.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		refs, err = nil, nil
	}
	if err != nil {
		return ferry.Revision{}, s.explain(err, "list refs of")
	}
	var branches []string
	for _, r := range refs {
		if r.Name() == s.ref && r.Type() == plumbing.HashReference {
			return s.describe(r.Hash()), nil
		}
		if r.Name().IsBranch() {
			branches = append(branches, r.Name().Short())
		}
	}
	slices.Sort(branches)
	return ferry.Revision{}, &BranchNotFoundError{URL: s.safeURL, Branch: s.branch, Existing: branches}
}

// describe returns the revision for hash, with details when it is cached.
func (s *Source) describe(hash plumbing.Hash) ferry.Revision {
	repo, err := s.open()
	if err != nil {
		return ferry.Revision{SHA: hash.String()}
	}
	c, err := repo.CommitObject(hash)
	if err != nil {
		return ferry.Revision{SHA: hash.String()}
	}
	return revisionOf(c)
}
