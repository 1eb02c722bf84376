package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// DeployTargets gives the Targets of real clusters: each environment's
// release through a deploy.Client. Environments on one cluster (the same
// kubeconfig and context) share one deploy.Connection: one rate limiter,
// discovery cache and schema cache per cluster, however many releases it
// carries.
func DeployTargets() Targets {
	var mu sync.Mutex
	conns := map[[2]string]*deploy.Connection{}
	return func(_ context.Context, _ *config.Pipeline, env *config.Environment) (Releaser, error) {
		key := [2]string{env.Kubeconfig, env.Context}
		mu.Lock()
		conn, ok := conns[key]
		if !ok {
			var err error
			conn, err = deploy.Connect(deploy.ConnectOptions{
				Kubeconfig: env.Kubeconfig, Context: env.Context,
				QPS: clusterQPS, Burst: clusterBurst,
			})
			if err != nil {
				mu.Unlock()
				return nil, err
			}
			conns[key] = conn
		}
		mu.Unlock()
		c, err := conn.Client(deploy.Target{
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
}

// Rate limits of a connection shared by every release on a cluster. They
// bound ferry's load on that API server as a whole (API Priority and
// Fairness guards the server beyond them); the 50 QPS one release needs to
// apply a chart promptly would make hundreds of releases queue on the client.
const (
	clusterQPS   = 200
	clusterBurst = 400
)

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
