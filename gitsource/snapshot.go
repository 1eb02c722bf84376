package gitsource

import (
	"context"
	"fmt"
	"io/fs"
	"slices"

	"github.com/ferry-gitops/ferry"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Snapshot gives the files of commit sha, read from the cached Git objects
// without a work tree, and the revision that describes it. When since is a
// SHA (the revision an environment ran before), ChangedFiles lists the paths
// that differ between the two, sorted and capped at ferry.MaxChangedFiles;
// since "" leaves it empty.
//
// The commit must have been fetched (ErrRevisionNotFound otherwise). The
// returned fs.FS follows symbolic links that stay inside the tree and refuses
// those that leave it (ErrSymlinkEscapes). It stays valid while the cache
// directory exists and is safe for concurrent use.
func (s *Source) Snapshot(ctx context.Context, sha, since string) (fs.FS, ferry.Revision, error) {
	hash, err := parseSHA(sha)
	if err != nil {
		return nil, ferry.Revision{}, err
	}
	repo, err := s.open()
	if err != nil {
		return nil, ferry.Revision{}, fmt.Errorf("open cache %s: %w", s.cacheDir, err)
	}
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return nil, ferry.Revision{}, fmt.Errorf("snapshot: %w: %s is not in the cache (fetch it first): %v", ErrRevisionNotFound, sha, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, ferry.Revision{}, fmt.Errorf("snapshot %s: read tree: %w", sha, err)
	}
	rev := revisionOf(commit)
	if since != "" && since != sha {
		files, err := changedFiles(ctx, repo, since, tree)
		if err != nil {
			return nil, ferry.Revision{}, fmt.Errorf("snapshot %s: files changed since %s: %w", sha, since, err)
		}
		n := min(len(files), ferry.MaxChangedFiles)
		rev.ChangedFiles, rev.ChangedFilesMore = files[:n:n], len(files)-n
	}
	return newTreeFS(repo.Storer, tree, rev.Time), rev, nil
}

// changedFiles lists the paths whose content or mode differ between the tree
// of commit since and tree.
func changedFiles(ctx context.Context, repo *git.Repository, since string, tree *object.Tree) ([]string, error) {
	hash, err := parseSHA(since)
	if err != nil {
		return nil, err
	}
	old, err := repo.CommitObject(hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not in the cache", ErrRevisionNotFound, since)
	}
	oldTree, err := old.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", since, err)
	}
	changes, err := object.DiffTreeWithOptions(ctx, oldTree, tree, &object.DiffTreeOptions{})
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, c := range changes {
		for _, p := range []string{c.From.Name, c.To.Name} {
			if p != "" {
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}
