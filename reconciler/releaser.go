package reconciler

import (
	"context"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/promote"
)

// Releaser is what the reconciler needs of one environment's Helm release in
// its cluster. DeployTargets provides it with deploy; tests may wrap it to
// count or interrupt calls.
type Releaser interface {
	// Capabilities are the target cluster's version and APIs, so a render
	// for it sees exactly what Helm would.
	Capabilities(ctx context.Context) (*deploy.Capabilities, error)
	// Apply upgrades or installs the release to r, recording rev in the Helm
	// revision, and returns that revision. When the live release is deployed
	// with r's digest it changes nothing: calling it again after a restart
	// is safe. A release left pending by a dead process is recovered first.
	Apply(ctx context.Context, r *ferry.Rendered, rev ferry.Revision) (helmRevision int, err error)
	// Reapply upgrades the release to r as a new Helm revision even when
	// the deployed one has r's digest, putting objects changed by hand
	// back; it returns that revision.
	Reapply(ctx context.Context, r *ferry.Rendered, rev ferry.Revision) (helmRevision int, err error)
	// MarkGood records a Helm revision that passed verification: the one a
	// later Rollback returns to.
	MarkGood(ctx context.Context, helmRevision int) error
	// Rollback returns the release to the revision last marked good and
	// waits until it is healthy; an unhealthy result is an error.
	Rollback(ctx context.Context) error
	// Drift describes how the live release differs from r (an upgrade by
	// hand, an edited object); "" when it does not. Quantities compare by
	// value and Secret data is masked.
	Drift(ctx context.Context, r *ferry.Rendered) (string, error)
	promote.HealthChecker
	promote.QuotaReader
}

// Targets gives the Releaser of one environment of a pipeline. It is called
// once per environment when the daemon is built.
type Targets func(ctx context.Context, p *config.Pipeline, env *config.Environment) (Releaser, error)
