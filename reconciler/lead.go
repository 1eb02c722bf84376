package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/workqueue"
)

// claim writes this replica into every pipeline's fence, so a deposed
// leader's next conditional write conflicts and it stops.
func (d *Daemon) claim(ctx context.Context) error {
	for _, name := range d.order {
		var lastHead string
		err := d.store.update(ctx, name, func(st *pipelineState) error {
			st.Leader = d.identity
			lastHead = st.Head.SHA
			return nil
		})
		if err != nil {
			return fmt.Errorf("claim pipeline %s: %w", name, err)
		}
		p := d.pipelines[name]
		p.mu.Lock()
		p.lastHead = lastHead
		p.mu.Unlock()
	}
	return nil
}

// lead acts for one leadership term, until ctx ends: it starts following
// the state, claims the fence, resumes every environment, polls Git,
// delivers chat, and runs timing.workers environment workers.
func (d *Daemon) lead(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// A replica fenced out by another ends its term at once: it gives the
	// Lease back and stands by again rather than holding it idle.
	ctx, depose := context.WithCancelCause(ctx)
	defer depose(nil)
	synced := make(chan struct{})
	wg.Go(func() { d.watchState(ctx, synced) })
	select {
	case <-synced:
	case <-ctx.Done():
		return nil
	}
	if err := d.claim(ctx); err != nil {
		return err
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[envKey](500*time.Millisecond, d.cfg.Timing.Resync),
		workqueue.TypedRateLimitingQueueConfig[envKey]{})
	d.mu.Lock()
	d.queue = q
	d.mu.Unlock()
	d.leading.Store(true)
	d.metrics.leader.Set(1)
	d.log.InfoContext(ctx, "leading", "identity", d.identity)
	defer func() {
		d.leading.Store(false)
		d.metrics.leader.Set(0)
		d.mu.Lock()
		d.queue = nil
		d.mu.Unlock()
		d.log.Info("stopped leading", "identity", d.identity)
	}()

	for _, name := range d.order {
		p := d.pipelines[name]
		for _, e := range p.envs {
			k := envKey{name, e.cfg.Name}
			d.setFlags(k, stepFlags{restart: true})
			q.Add(k)
		}
		wg.Go(func() { d.poll(ctx, p, depose) })
		wg.Go(func() { d.deliver(ctx, p) })
	}
	wg.Go(func() { d.resync(ctx) })
	steps := &stepProblems{log: d.log, of: map[envKey]*problem{}}
	for range max(d.cfg.Timing.Workers, 1) {
		wg.Go(func() { d.work(ctx, q, depose, steps) })
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
	if err := context.Cause(ctx); errors.Is(err, errDeposed) {
		return err
	}
	return nil
}

// work takes environments off the queue until it shuts down. Finding
// another replica in the fence ends the term through depose.
// A step failing again the same way (the API server away) is reported once.
func (d *Daemon) work(ctx context.Context, q workqueue.TypedRateLimitingInterface[envKey], depose context.CancelCauseFunc, steps *stepProblems) {
	for {
		k, shutdown := q.Get()
		if shutdown {
			return
		}
		err := d.reconcile(ctx, k)
		switch {
		case err == nil:
			steps.get(k).ok(ctx, "pipeline", k.pipeline, "environment", k.env)
			q.Forget(k)
		case errors.Is(err, errDeposed):
			d.log.WarnContext(ctx, "fenced out by another replica; not acting", "pipeline", k.pipeline, "environment", k.env, "err", err)
			q.Forget(k)
			depose(err)
		case ctx.Err() != nil:
		default:
			steps.get(k).failed(ctx, err, "pipeline", k.pipeline, "environment", k.env)
			q.AddRateLimited(k)
		}
		q.Done(k)
	}
}

// stepProblems are the workers' reports of failing steps, one per
// environment: the workqueue hands a key to one worker at a time.
type stepProblems struct {
	log *slog.Logger
	mu  sync.Mutex
	of  map[envKey]*problem
}

func (s *stepProblems) get(k envKey) *problem {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.of[k]
	if !ok {
		p = &problem{log: s.log, msg: "step failed; retrying", recovered: "step works again"}
		s.of[k] = p
	}
	return p
}

// resync ticks every environment on a jittered timing.resync.
func (d *Daemon) resync(ctx context.Context) {
	for {
		t := time.NewTimer(jitter(d.cfg.Timing.Resync, 0.1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		for _, name := range d.order {
			for _, e := range d.pipelines[name].envs {
				k := envKey{name, e.cfg.Name}
				d.setFlags(k, stepFlags{tick: true})
				d.enqueue(k)
			}
		}
	}
}

// watchState follows the state ConfigMaps so that what other replicas
// record (approvals, promotions, pauses, webhook nudges) is acted on at once,
// and keeps the store's cache current while it runs: it lists them all,
// closes synced after the first list, then watches from that list on. A
// watch the API server ends is resumed where it stopped (bookmarks keep
// that point fresh); only a failure or an expired point lists again. An API
// server away is reported once, not at every retry.
func (d *Daemon) watchState(ctx context.Context, synced chan<- struct{}) {
	trouble := &problem{log: d.log, msg: "watching state failed; retrying", recovered: "watching state works again"}
	first := true
	from := "" // resourceVersion to watch from; "" lists first
	for ctx.Err() == nil {
		if from == "" {
			d.store.follow(true)
			list, err := d.store.list(ctx)
			if err != nil {
				d.store.follow(false)
				if ctx.Err() == nil {
					trouble.failed(ctx, err)
				}
				sleep(ctx, time.Second)
				continue
			}
			for i := range list.Items {
				cm := &list.Items[i]
				d.store.seen(cm.Labels[labelPipeline], cm)
				if !first {
					// Changes may have been missed while the watch was down.
					d.stateChanged(ctx, cm.Labels[labelPipeline])
				}
			}
			from = list.ResourceVersion
			if first {
				close(synced)
				first = false
			}
		}
		w, err := d.client.CoreV1().ConfigMaps(d.store.namespace).Watch(ctx, metav1.ListOptions{
			LabelSelector: labelManagedBy + "=ferry", ResourceVersion: from, AllowWatchBookmarks: true,
		})
		if err == nil {
			trouble.ok(ctx)
			started := time.Now()
			from, err = d.followWatch(ctx, w, from)
			w.Stop()
			if err == nil && time.Since(started) < time.Second {
				// A watch that ends as it starts is not retried in a spin.
				sleep(ctx, time.Second)
			}
		}
		if err != nil {
			// List again: at once when the watch's point expired, else
			// after a pause.
			from = ""
			d.store.follow(false)
			if ctx.Err() == nil && !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
				trouble.failed(ctx, err)
				sleep(ctx, time.Second)
			}
		}
	}
	d.store.follow(false)
}

// followWatch applies a watch's events to the store and queues the
// pipelines they touch, until the watch ends. It returns the
// resourceVersion to resume from, or the error the watch ended with.
func (d *Daemon) followWatch(ctx context.Context, w watch.Interface, from string) (string, error) {
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			return "", fmt.Errorf("watch state configmaps in %s: %w", d.store.namespace, apierrors.FromObject(ev.Object))
		case watch.Bookmark:
			if m, err := meta.Accessor(ev.Object); err == nil {
				from = m.GetResourceVersion()
			}
			continue
		}
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		from = cm.ResourceVersion
		pipeline := cm.Labels[labelPipeline]
		switch ev.Type {
		case watch.Added, watch.Modified:
			d.store.seen(pipeline, cm)
			d.stateChanged(ctx, pipeline)
		case watch.Deleted:
			d.store.forget(pipeline)
		}
	}
	return from, nil
}

// stateChanged queues every environment of a pipeline whose state was
// written, and re-reads the head when a webhook nudge was recorded.
func (d *Daemon) stateChanged(ctx context.Context, pipeline string) {
	p, ok := d.pipelines[pipeline]
	if !ok {
		return
	}
	st, _, err := d.store.load(ctx, pipeline)
	if err != nil {
		return
	}
	p.mu.Lock()
	nudged := st.Nudges != p.lastNudges
	p.lastNudges = st.Nudges
	p.mu.Unlock()
	if nudged {
		p.source.Nudge()
		select {
		case p.nudge <- struct{}{}:
		default:
		}
	}
	for _, e := range p.envs {
		d.enqueue(envKey{pipeline, e.cfg.Name})
	}
}

// enqueue adds k to the current term's queue; without one it does nothing.
func (d *Daemon) enqueue(k envKey) {
	d.mu.Lock()
	q := d.queue
	d.mu.Unlock()
	if q != nil {
		q.Add(k)
	}
}

// wakeAt ticks k at t.
func (d *Daemon) wakeAt(k envKey, t time.Time) {
	time.AfterFunc(time.Until(t), func() {
		d.setFlags(k, stepFlags{tick: true})
		d.enqueue(k)
	})
}

// setFlags marks what is due for k.
func (d *Daemon) setFlags(k envKey, f stepFlags) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.flags[k]
	cur.restart = cur.restart || f.restart
	cur.tick = cur.tick || f.tick
	d.flags[k] = cur
}

// peekFlags returns what is due for k without clearing it, so a step whose
// write conflicts sees it again.
func (d *Daemon) peekFlags(k envKey) stepFlags {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flags[k]
}

// clearFlags clears what a recorded step consumed.
func (d *Daemon) clearFlags(k envKey, f stepFlags) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.flags[k]
	if f.restart {
		cur.restart = false
	}
	if f.tick {
		cur.tick = false
	}
	d.flags[k] = cur
}
