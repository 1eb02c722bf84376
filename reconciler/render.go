package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/gitsource"
)

// maxRenders bounds the renders an environment keeps in memory.
const maxRenders = 16

// renderError is a render that failed because of the revision's content
// (values, templates, schema, paths): terminal for that revision, retrying
// cannot help.
type renderError struct{ err error }

func (e *renderError) Error() string { return e.err.Error() }
func (e *renderError) Unwrap() error { return e.err }

// renderResult is a cached render or its terminal error.
type renderResult struct {
	r   *ferry.Rendered
	err error
}

// snapshot gives the files of sha, fetching it first when the cache lacks it
// (after a restart with a fresh data directory, say).
func (p *pipelineRun) snapshot(ctx context.Context, sha, since string) (fs.FS, ferry.Revision, error) {
	files, rev, err := p.source.Snapshot(ctx, sha, since)
	if errors.Is(err, gitsource.ErrRevisionNotFound) {
		if ferr := p.source.Fetch(ctx, sha); ferr != nil {
			return nil, ferry.Revision{}, fmt.Errorf("fetch %s: %w", short(sha), ferr)
		}
		files, rev, err = p.source.Snapshot(ctx, sha, since)
	}
	if err != nil {
		return nil, ferry.Revision{}, fmt.Errorf("read files of %s: %w", short(sha), err)
	}
	return files, rev, nil
}

// render renders the environment's release for revision sha. A failure of
// the revision's content is a *renderError and is remembered, so it is told
// once; failures to reach Git or the cluster are returned for a retry.
func (p *pipelineRun) render(ctx context.Context, e *envRun, sha string) (*ferry.Rendered, error) {
	e.mu.Lock()
	res, ok := e.renders[sha]
	e.mu.Unlock()
	if ok {
		return res.r, res.err
	}
	files, _, err := p.snapshot(ctx, sha, "")
	if err != nil {
		return nil, err
	}
	caps, err := e.releaser.Capabilities(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover capabilities of %s: %w", e.cfg.Name, err)
	}
	spec := deploy.RenderSpec{
		Chart:        p.cfg.Chart,
		ValuesFiles:  append(append([]string(nil), p.cfg.Values...), e.cfg.Values...),
		Set:          e.cfg.Set,
		SetString:    e.cfg.SetString,
		Release:      e.cfg.Release,
		Namespace:    e.cfg.Namespace,
		Capabilities: caps,
		Schemas:      p.schemas,
	}
	r, err := deploy.Render(ctx, files, spec)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.remember(e, sha, nil, &renderError{fmt.Errorf("render %s for %s: %w", short(sha), e.cfg.Name, err)})
	}
	return r, p.remember(e, sha, r, nil)
}

func (p *pipelineRun) remember(e *envRun, sha string, r *ferry.Rendered, err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.renders) >= maxRenders {
		clear(e.renders)
	}
	e.renders[sha] = renderResult{r: r, err: err}
	return err
}

func short(sha string) string { return ferry.Revision{SHA: sha}.Short() }
