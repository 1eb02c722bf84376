package deploy

import (
	"context"
	"fmt"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// RollbackResult is the outcome of Rollback.
type RollbackResult struct {
	// From is the revision that was latest before, To the good revision
	// returned to, and Revision the new revision the rollback made.
	From, To, Revision int
	// Health is the verdict on the rolled-back release; when Healthy the new
	// revision is marked good.
	Health ferry.HealthVerdict
}

// Rollback returns the release to the last revision ferry recorded as good
// (see MarkGood), which is not necessarily the one before, then waits up to
// healthTimeout for it to be healthy. A revision left pending is marked
// failed first. Without a good revision it returns ErrNoGoodRevision and
// changes nothing. An unhealthy rollback is a verdict, not an error: the
// caller reads Health.
func (c *Client) Rollback(ctx context.Context, healthTimeout time.Duration) (*RollbackResult, error) {
	res, objects, err := c.rollback(ctx)
	if err != nil {
		return res, err
	}
	r := ferry.Rendered{Release: c.target.Release, Namespace: c.target.Namespace, Objects: objects}
	if res.Health, err = c.WaitHealthy(ctx, r, healthTimeout, nil); err != nil {
		return res, err
	}
	if res.Health.Status == ferry.HealthHealthy {
		if err := c.MarkGood(ctx, res.Revision); err != nil {
			return res, err
		}
	}
	return res, nil
}

// rollback makes the Helm rollback and returns the objects to judge.
func (c *Client) rollback(ctx context.Context) (*RollbackResult, []ferry.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hist, err := c.history()
	if err != nil {
		return nil, nil, err
	}
	good := lastGood(hist)
	if good == nil {
		return nil, nil, fmt.Errorf("roll back release %s: %w", c.target.Release, ErrNoGoodRevision)
	}
	s := observe(hist, "")
	res := &RollbackResult{From: s.last.Version, To: good.Version}
	if st := status(s.last); st.IsPending() {
		if err := c.setStatus(s.last.Version, release.StatusFailed, fmt.Sprintf("ferry: found %s with no operation running; marked failed before rolling back", st)); err != nil {
			return res, nil, err
		}
	}
	objects, err := manifestObjects(good.Manifest)
	if err != nil {
		return res, nil, fmt.Errorf("revision %d of release %s: %w", good.Version, c.target.Release, err)
	}
	// Going back may add or remove a CRD; rollbacks are rare enough that
	// capabilities are re-read after each without looking.
	defer c.cluster.forgetCapabilities()
	rb := action.NewRollback(c.helm)
	rb.Version = good.Version
	rb.Timeout = c.target.HookTimeout
	if err := c.detachable(ctx, func() error { return rb.Run(c.target.Release) }); err != nil {
		return res, nil, fmt.Errorf("roll back release %s to revision %d: %w", c.target.Release, good.Version, err)
	}
	desc := fmt.Sprintf("ferry rollback to good revision %d (%s) from revision %d", good.Version, good.Labels[LabelRevision], s.last.Version)
	if res.Revision, err = c.relabelRollback(good.Version, desc); err != nil {
		return res, nil, err
	}
	if err := c.prune(ctx); err != nil {
		return res, nil, err
	}
	c.log.InfoContext(ctx, "rolled back", "from", res.From, "to", res.To, "helmRevision", res.Revision)
	return res, objects, nil
}
