package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Run serves until ctx ends: it checks that the state is readable (Ready),
// then stands by for the leader Lease and acts while it holds it. When ctx
// ends it stops acting (an apply or verification in flight is interrupted
// and stays recorded for the next leader to resume), then releases the
// Lease so a standby takes over at once.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.checkState(ctx); err != nil {
		return err
	}
	return d.elect(ctx, false, d.lead)
}

// RunOnce takes the Lease, reconciles one pass and returns: it reads every
// branch head, steps each environment in promotion order as far as it goes
// without waiting for a person or a window, and delivers the chat outbox.
func (d *Daemon) RunOnce(ctx context.Context) error {
	if err := d.checkState(ctx); err != nil {
		return err
	}
	return d.elect(ctx, true, func(ctx context.Context) error {
		if err := d.claim(ctx); err != nil {
			return err
		}
		d.leading.Store(true)
		defer d.leading.Store(false)
		var errs []error
		for _, name := range d.order {
			p := d.pipelines[name]
			if err := d.pollOnce(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("pipeline %s: read branch head: %w", name, err))
				continue
			}
			for _, e := range p.envs {
				k := envKey{name, e.cfg.Name}
				d.setFlags(k, stepFlags{restart: true, tick: true})
				if err := d.reconcile(ctx, k); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", k, err))
				}
			}
			if err := d.drain(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("pipeline %s: deliver chat: %w", name, err))
			}
		}
		return errors.Join(errs...)
	})
}

// checkState reads every pipeline's state once; the daemon is ready after.
func (d *Daemon) checkState(ctx context.Context) error {
	for _, name := range d.order {
		if _, _, err := d.store.load(ctx, name); err != nil {
			return err
		}
	}
	d.ready.Store(true)
	return nil
}

// elect runs body while holding the leader Lease until ctx ends, standing
// by again whenever the Lease is lost. body's context ends when the Lease is
// lost or ctx ends; the Lease is released only after body has returned, so
// two replicas never act at once. With once, elect returns as soon as body
// has run to its end once.
func (d *Daemon) elect(ctx context.Context, once bool, body func(context.Context) error) error {
	le := d.cfg.Timing.LeaderElection
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: d.cfg.State.Namespace, Name: d.cfg.State.LeaseName},
		Client:     d.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: d.identity},
	}
	for ctx.Err() == nil {
		var (
			started  atomic.Bool
			bodyErr  error
			finished = make(chan struct{})
		)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   le.LeaseDuration,
			RenewDeadline:   le.RenewDeadline,
			RetryPeriod:     le.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            d.cfg.State.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leaseCtx context.Context) {
					started.Store(true)
					defer close(finished)
					actCtx, cancel := context.WithCancel(leaseCtx)
					defer cancel()
					defer context.AfterFunc(ctx, cancel)()
					bodyErr = body(actCtx)
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		// The elector's context outlives ctx while body runs: it ends when
		// body has returned, and only then is the Lease released.
		runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
		stopWaiting := context.AfterFunc(ctx, func() {
			if !started.Load() {
				cancelRun()
			}
		})
		go func() {
			select {
			case <-finished:
				cancelRun()
			case <-runCtx.Done():
			}
		}()
		elector.Run(runCtx)
		stopWaiting()
		if started.Load() {
			<-finished
		}
		cancelRun()
		switch {
		case !started.Load():
		case once:
			return bodyErr
		case bodyErr != nil:
			d.log.ErrorContext(ctx, "leadership term ended with an error; standing by", "err", bodyErr)
			sleep(ctx, le.RetryPeriod)
		}
	}
	return nil
}
