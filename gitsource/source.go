package gitsource

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Source follows one branch of one repository. It is safe for concurrent use:
// fetches are serialised, and every read opens its own view of the cache, so
// a snapshot being read is never disturbed by a fetch (pack files are
// immutable once written).
type Source struct {
	url      string // as given, used to connect
	safeURL  string // without any password, for messages
	branch   string
	ref      plumbing.ReferenceName
	cacheDir string
	auth     transport.AuthMethod
	algos    []string // SSH host-key algorithms offered, for messages
	log      *slog.Logger

	fetchMu sync.Mutex
	nudge   chan struct{}
}

// objectCacheBytes bounds the decoded-object cache of each view of the
// repository; charts are small, and a view lives as long as one snapshot.
const objectCacheBytes = 16 << 20

// New checks the options, prepares the credentials and opens the cache
// directory, creating a bare repository there when it is empty or missing.
// It makes no network call.
func New(opts Options) (*Source, error) {
	ep, err := opts.validate()
	if err != nil {
		return nil, err
	}
	auth, algos, err := authFor(ep, opts.Auth)
	if err != nil {
		return nil, fmt.Errorf("gitsource options: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{
		url:      opts.URL,
		safeURL:  redactURL(opts.URL),
		branch:   opts.Branch,
		ref:      plumbing.NewBranchReferenceName(opts.Branch),
		cacheDir: opts.CacheDir,
		auth:     auth,
		algos:    algos,
		log:      log.With("source", redactURL(opts.URL), "branch", opts.Branch),
		nudge:    make(chan struct{}, 1),
	}
	if err := s.initCache(); err != nil {
		return nil, err
	}
	return s, nil
}

// Branch is the branch the source follows.
func (s *Source) Branch() string { return s.branch }

func (s *Source) initCache() error {
	if _, err := s.open(); err == nil {
		return nil
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return fmt.Errorf("open cache %s: %w", s.cacheDir, err)
	}
	if err := os.MkdirAll(s.cacheDir, 0o755); err != nil {
		return fmt.Errorf("create cache %s: %w", s.cacheDir, err)
	}
	empty, err := isEmptyDir(s.cacheDir)
	if err != nil {
		return fmt.Errorf("cache %s: %w", s.cacheDir, err)
	}
	if !empty {
		return fmt.Errorf("cache %s is neither empty nor a Git repository; give ferry a directory of its own", s.cacheDir)
	}
	st := filesystem.NewStorage(osfs.New(s.cacheDir), cache.NewObjectLRU(objectCacheBytes))
	if _, err := git.Init(st, nil); err != nil {
		return fmt.Errorf("init cache %s: %w", s.cacheDir, err)
	}
	return nil
}

// open returns a fresh view of the cached repository.
func (s *Source) open() (*git.Repository, error) {
	st := filesystem.NewStorage(osfs.New(s.cacheDir), cache.NewObjectLRU(objectCacheBytes))
	return git.Open(st, nil)
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// revisionOf describes a commit the way ferry shows it.
func revisionOf(c *object.Commit) ferry.Revision {
	subject, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
	author := c.Author.Name
	if c.Author.Email != "" {
		author += " <" + c.Author.Email + ">"
	}
	return ferry.Revision{
		SHA:     c.Hash.String(),
		Subject: strings.TrimSpace(subject),
		Author:  author,
		Time:    c.Committer.When.In(time.UTC),
	}
}
