package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"helm.sh/helm/v3/pkg/release"
)

// ErrNoGoodRevision means the release has no revision ferry recorded as
// good, so there is nothing to roll back to; the caller must hold.
var ErrNoGoodRevision = errors.New("no revision recorded as good")

// MarkGood records Helm revision version as good: the one Rollback returns
// to until a later revision is marked. ferry calls it once a revision's
// verification gates have passed.
func (c *Client) MarkGood(ctx context.Context, version int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rel, err := c.helm.Releases.Get(c.target.Release, version)
	if err != nil {
		return fmt.Errorf("read revision %d of release %s: %w", version, c.target.Release, err)
	}
	if rel.Labels == nil {
		rel.Labels = map[string]string{}
	}
	rel.Labels[LabelGood] = "true"
	if err := c.helm.Releases.Update(rel); err != nil {
		return fmt.Errorf("mark revision %d of release %s good: %w", version, c.target.Release, err)
	}
	c.log.InfoContext(ctx, "revision marked good", "helmRevision", version)
	return nil
}

// lastGood is the newest revision marked good, nil when there is none.
func lastGood(history []*release.Release) *release.Release {
	var best *release.Release
	for _, r := range history {
		if r.Labels[LabelGood] == "true" && (best == nil || r.Version > best.Version) {
			best = r
		}
	}
	return best
}

// pruneVictims picks the revisions to delete so that the newest max remain,
// plus, when older, the last good revision and the deployed one, which are
// never picked.
func pruneVictims(history []*release.Release, max int) []int {
	h := slices.Clone(history)
	slices.SortFunc(h, func(a, b *release.Release) int { return b.Version - a.Version })
	good := lastGood(h)
	var victims []int
	for i, r := range h {
		if i < max || r == good || status(r) == release.StatusDeployed {
			continue
		}
		victims = append(victims, r.Version)
	}
	slices.Sort(victims)
	return victims
}

// prune deletes the revisions pruneVictims picks. Helm's own MaxHistory is
// left off because it may delete the last good revision.
func (c *Client) prune(ctx context.Context) error {
	hist, err := c.history()
	if err != nil {
		return err
	}
	for _, v := range pruneVictims(hist, c.target.MaxHistory) {
		if _, err := c.helm.Releases.Delete(c.target.Release, v); err != nil {
			return fmt.Errorf("prune revision %d of release %s: %w", v, c.target.Release, err)
		}
		c.log.DebugContext(ctx, "pruned revision", "helmRevision", v)
	}
	return nil
}
