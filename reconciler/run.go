package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

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

// checkState reads every pipeline's state once, in one list, and checks
// that each configured pipeline's decodes; the daemon is ready after. State
// left by pipelines no longer configured is not this daemon's to judge.
func (d *Daemon) checkState(ctx context.Context) error {
	list, err := d.store.list(ctx)
	if err != nil {
		return err
	}
	for _, cm := range list.Items {
		name := cm.Labels[labelPipeline]
		if _, ok := d.pipelines[name]; !ok {
			continue
		}
		if _, err := decodeState(name, cm.Data[stateKey]); err != nil {
			return fmt.Errorf("configmap %s/%s: %w", cm.Namespace, cm.Name, err)
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
	// The elector logs through klog at every retry while the API server is
	// away; through electionLog, each kind of failure is reported once.
	elog := electionLog{Handler: d.log.Handler(), seen: &electionSeen{}}
	logCtx := logr.NewContext(context.WithoutCancel(ctx), logr.FromSlogHandler(elog))
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
					elog.seen.reset()
					defer close(finished)
					actCtx, cancel := context.WithCancel(context.WithValue(leaseCtx, leaseKey{}, leaseCtx))
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
		runCtx, cancelRun := context.WithCancel(logCtx)
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

// electionLog is the handler of client-go's leader election log. The
// elector logs an error at every retry (every retryPeriod while the API
// server is away); like problem, electionLog reports the first error of each
// message and kind at Warn and its repeats at Debug, until the Lease is held
// again. Other records pass unchanged.
type electionLog struct {
	slog.Handler
	seen *electionSeen
}

// electionSeen is what electionLog reported since the Lease was last won.
type electionSeen struct {
	mu    sync.Mutex
	kinds map[string]bool
}

// reset forgets what was reported: the Lease is held again.
func (s *electionSeen) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds = nil
}

// first reports whether kind is reported for the first time.
func (s *electionSeen) first(kind string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds[kind] {
		return false
	}
	if s.kinds == nil {
		s.kinds = map[string]bool{}
	}
	s.kinds[kind] = true
	return true
}

func (h electionLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		var err error
		r.Attrs(func(a slog.Attr) bool {
			err, _ = a.Value.Any().(error)
			return err == nil
		})
		kind := r.Message
		if err != nil {
			kind += ": " + failureKind(err)
		}
		level := slog.LevelWarn
		if !h.seen.first(kind) {
			level = slog.LevelDebug
		}
		if !h.Handler.Enabled(ctx, level) {
			return nil
		}
		r.Level = level
	}
	return h.Handler.Handle(ctx, r)
}

func (h electionLog) WithAttrs(as []slog.Attr) slog.Handler {
	return electionLog{h.Handler.WithAttrs(as), h.seen}
}

func (h electionLog) WithGroup(name string) slog.Handler {
	return electionLog{h.Handler.WithGroup(name), h.seen}
}

// Bounds of the work done after ferry is told to stop.
const (
	// shutdownGrace is how long a Helm operation in flight may go on after
	// ferry is told to stop, so a stop does not leave a half-applied
	// release marked failed; it stays under Kubernetes' default 30s
	// termination grace period.
	shutdownGrace = 20 * time.Second
	// recordTimeout bounds the state write that records what an action
	// did after ferry was told to stop.
	recordTimeout = 5 * time.Second
)

// leaseKey carries the leadership term's context in the acting context.
type leaseKey struct{}

// helmContext is the context of a Helm operation started under ctx. It ends
// at once when the lease is lost (a deposed leader must stop acting), but
// when ferry is told to stop it lets the operation finish for up to
// shutdownGrace: the lease is held until it has.
func helmContext(ctx context.Context) (context.Context, context.CancelFunc) {
	lease, ok := ctx.Value(leaseKey{}).(context.Context)
	if !ok {
		return context.WithCancel(ctx)
	}
	hctx, cancel := context.WithCancel(lease)
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(shutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-hctx.Done():
		}
	})
	return hctx, func() { stop(); cancel() }
}
