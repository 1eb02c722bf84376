package deploy

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// recoverPending repairs a release whose latest revision a dead process left
// pending: that revision is marked failed (so Helm accepts new operations)
// and the release is rolled back to the revision Helm still counts as
// deployed, since the dead operation may have changed some objects already.
func (c *Client) recoverPending(ctx context.Context, s releaseState) (string, error) {
	was := status(s.last)
	if err := c.setStatus(s.last.Version, release.StatusFailed,
		fmt.Sprintf("ferry: found %s with no operation running (the process applying it stopped); marked failed", was)); err != nil {
		return "", err
	}
	rb := action.NewRollback(c.helm)
	rb.Version = s.deployed.Version
	rb.Timeout = c.target.HookTimeout
	if err := c.detachable(ctx, func() error { return rb.Run(c.target.Release) }); err != nil {
		return "", fmt.Errorf("recover release %s from %s: roll back to revision %d: %w", c.target.Release, was, s.deployed.Version, err)
	}
	now, err := c.relabelRollback(s.deployed.Version,
		fmt.Sprintf("ferry recover: revision %d was left %s; rolled back to revision %d", s.last.Version, was, s.deployed.Version))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("revision %d was left %s by an interrupted operation: marked failed and rolled back to revision %d (now revision %d)",
		s.last.Version, was, s.deployed.Version, now), nil
}

// uninstallNeverDeployed removes a release none of whose revisions ever
// deployed (a first install that failed or was interrupted), objects
// included, so a clean install can take its place. Delete hooks are skipped:
// they belong to a release that never ran.
func (c *Client) uninstallNeverDeployed(ctx context.Context, s releaseState) (string, error) {
	un := action.NewUninstall(c.helm)
	un.DisableHooks = true
	un.Timeout = c.target.HookTimeout
	if err := c.detachable(ctx, func() error {
		_, err := un.Run(c.target.Release)
		return err
	}); err != nil {
		return "", fmt.Errorf("uninstall release %s that never deployed: %w", c.target.Release, err)
	}
	return fmt.Sprintf("revision %d was %s and no revision was ever deployed: uninstalled for a clean install",
		s.last.Version, status(s.last)), nil
}

// detachable runs a Helm operation that takes no context. When ctx ends
// first, the operation is left to finish in the background, the release is
// settled (see settle) and ctx's error returned.
func (c *Client) detachable(ctx context.Context, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.settle(ctx)
		return context.Cause(ctx)
	}
}

// settle marks the latest revision failed when an operation stopped by ctx
// left it pending, so the release is never stuck in pending-*. Helm's own
// upgrade and install already do this on cancellation; settle covers the
// operations that do not and the moment between.
func (c *Client) settle(ctx context.Context) {
	hist, err := c.history()
	if err != nil || len(hist) == 0 {
		return
	}
	s := observe(hist, "")
	if !status(s.last).IsPending() {
		return
	}
	msg := fmt.Sprintf("ferry: stopped while %s (%v); marked failed", status(s.last), context.Cause(ctx))
	if err := c.setStatus(s.last.Version, release.StatusFailed, msg); err != nil {
		c.log.ErrorContext(ctx, "could not settle release after cancellation", "helmRevision", s.last.Version, "error", err)
	}
}

// setStatus rewrites one stored revision's status and description.
func (c *Client) setStatus(version int, st release.Status, desc string) error {
	rel, err := c.helm.Releases.Get(c.target.Release, version)
	if err != nil {
		return fmt.Errorf("read revision %d of release %s: %w", version, c.target.Release, err)
	}
	rel.SetStatus(st, desc)
	if err := c.helm.Releases.Update(rel); err != nil {
		return fmt.Errorf("mark revision %d of release %s %s: %w", version, c.target.Release, st, err)
	}
	return nil
}

// relabelRollback fixes up the revision a Helm rollback to version just
// made: Helm copies the target revision's labels, good mark included, but
// the new revision is good only once its own health passes. It returns the
// new revision's number.
func (c *Client) relabelRollback(version int, desc string) (int, error) {
	last, err := c.helm.Releases.Last(c.target.Release)
	if err != nil {
		return 0, fmt.Errorf("read release %s after rollback: %w", c.target.Release, err)
	}
	rel, err := c.helm.Releases.Get(c.target.Release, last.Version)
	if err != nil {
		return 0, fmt.Errorf("read release %s after rollback: %w", c.target.Release, err)
	}
	delete(rel.Labels, LabelGood)
	rel.Info.Description = desc
	if err := c.helm.Releases.Update(rel); err != nil {
		return 0, fmt.Errorf("describe rollback of release %s to revision %d: %w", c.target.Release, version, err)
	}
	return rel.Version, nil
}
