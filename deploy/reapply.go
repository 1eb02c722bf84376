package deploy

import (
	"context"
	"fmt"

	ferry "github.com/ferry-gitops/ferry"
)

// Reapply upgrades the release to r as a new revision even when the
// deployed revision already carries r's digest: it corrects drift. Helm's
// three-way merge puts objects edited by hand back to the manifest, and a
// revision upgraded by hand is replaced by r. A release not in sync with r
// (absent, pending, another digest) is brought to r exactly as Apply does.
func (c *Client) Reapply(ctx context.Context, rev ferry.Revision, r *ferry.Rendered) (*Result, error) {
	if r.Release != c.target.Release || r.Namespace != c.target.Namespace {
		return nil, fmt.Errorf("%w: render is for release %s in namespace %s, target is %s in %s",
			ErrBadTarget, r.Release, r.Namespace, c.target.Release, c.target.Namespace)
	}
	c.mu.Lock()
	hist, err := c.history()
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	s := observe(hist, r.Digest)
	if s.kind != stateInSync {
		c.mu.Unlock()
		return c.Apply(ctx, rev, r)
	}
	defer c.mu.Unlock()
	rel, err := c.applyRender(ctx, stepUpgrade, s, rev, r)
	res := &Result{Action: ActionUpgraded}
	if rel != nil {
		res.Revision = rel.Version
	}
	if perr := c.prune(ctx); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return res, err
	}
	c.log.InfoContext(ctx, "release re-applied to correct drift", "revision", rev.Short(), "helmRevision", res.Revision)
	return res, nil
}
