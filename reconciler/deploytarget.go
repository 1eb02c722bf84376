package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// DeployTargets is the Targets of a real cluster: each environment's release
// through a deploy.Client on its kubeconfig and context.
func DeployTargets(_ context.Context, _ *config.Pipeline, env *config.Environment) (Releaser, error) {
	c, err := deploy.NewClient(deploy.Target{
		Kubeconfig:      env.Kubeconfig,
		Context:         env.Context,
		Namespace:       env.Namespace,
		CreateNamespace: env.CreateNamespace,
		NamespaceLabels: env.NamespaceLabels,
		Release:         env.Release,
		MaxHistory:      env.MaxHistory,
	})
	if err != nil {
		return nil, err
	}
	return &deployRelease{Client: c, healthTimeout: env.Gates.Health.Timeout}, nil
}

// deployRelease adapts a deploy.Client to Releaser.
type deployRelease struct {
	*deploy.Client
	healthTimeout time.Duration
}

func (d *deployRelease) Capabilities(ctx context.Context) (*deploy.Capabilities, error) {
	return d.Cluster().Capabilities(ctx)
}

func (d *deployRelease) Apply(ctx context.Context, r *ferry.Rendered, rev ferry.Revision) (int, error) {
	res, err := d.Client.Apply(ctx, rev, r)
	if err != nil {
		return 0, err
	}
	return res.Revision, nil
}

func (d *deployRelease) Reapply(ctx context.Context, r *ferry.Rendered, rev ferry.Revision) (int, error) {
	res, err := d.Client.Reapply(ctx, rev, r)
	if err != nil {
		return 0, err
	}
	return res.Revision, nil
}

func (d *deployRelease) Rollback(ctx context.Context) error {
	res, err := d.Client.Rollback(ctx, d.healthTimeout)
	if err != nil {
		return err
	}
	if res.Health.Status != ferry.HealthHealthy {
		return fmt.Errorf("rolled back to Helm revision %d (now %d) but it is not healthy: %s", res.To, res.Revision, res.Health.Reason)
	}
	return nil
}

func (d *deployRelease) Drift(ctx context.Context, r *ferry.Rendered) (string, error) {
	live, err := d.Cluster().LiveObjects(ctx, r)
	if err != nil {
		return "", fmt.Errorf("read live objects of release %s: %w", r.Release, err)
	}
	ch := deploy.Diff(live, r)
	if ch.Empty() {
		return "", nil
	}
	return ch.String(), nil
}
