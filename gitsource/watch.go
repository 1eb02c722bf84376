package gitsource

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/go-git/go-git/v5/plumbing"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	// Interval between polls of the branch head. Required.
	Interval time.Duration
	// Jitter spreads each wait uniformly over Interval×(1±Jitter), so many
	// ferry replicas or pipelines do not poll one server in step. 0 means
	// the default of 0.1; negative means none. At most 0.5.
	Jitter float64
	// Last is the SHA already known (from the state store after a restart);
	// Watch emits only a head that differs from it. Empty emits the first head.
	Last string
}

// Update is what Watch emits: a new head, fetched and described, or an error
// from reading or fetching it.
type Update struct {
	Revision ferry.Revision
	Err      error
}

// defaultJitter is the spread used when WatchOptions.Jitter is zero.
const defaultJitter = 0.1

// Watch polls the branch head on a jittered interval, and at once after a
// Nudge, and emits an Update whenever the head differs from the last one seen:
// a new commit, and a force-push back to an older one alike. A revision is
// emitted only after Fetch succeeded, so its Subject, Author and Time are set
// and Snapshot works on it. An error is emitted once per distinct failure
// (a branch deleted upstream gives *BranchNotFoundError) and the last revision
// stays current. The channel closes when ctx ends. Run one Watch per Source:
// nudges go to whichever is waiting.
func (s *Source) Watch(ctx context.Context, opts WatchOptions) (<-chan Update, error) {
	if opts.Interval <= 0 {
		return nil, errors.New("watch: interval must be positive")
	}
	if opts.Jitter > 0.5 {
		return nil, errors.New("watch: jitter must be at most 0.5")
	}
	jitter := opts.Jitter
	switch {
	case jitter == 0:
		jitter = defaultJitter
	case jitter < 0:
		jitter = 0
	}
	out := make(chan Update)
	go s.watch(ctx, opts.Interval, jitter, opts.Last, out)
	return out, nil
}

func (s *Source) watch(ctx context.Context, interval time.Duration, jitter float64, last string, out chan<- Update) {
	defer close(out)
	lastErr := ""
	timer := time.NewTimer(0) // first check at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.nudge:
			s.log.DebugContext(ctx, "nudged")
		}
		u, changed := s.poll(ctx, last)
		switch {
		case u.Err != nil && u.Err.Error() != lastErr && ctx.Err() == nil:
			lastErr = u.Err.Error()
			s.log.WarnContext(ctx, "reading branch head failed", "error", u.Err)
			if !send(ctx, out, u) {
				return
			}
		case u.Err == nil && changed:
			last, lastErr = u.Revision.SHA, ""
			s.log.InfoContext(ctx, "new revision", "revision", u.Revision.Short(), "subject", u.Revision.Subject)
			if !send(ctx, out, u) {
				return
			}
		case u.Err == nil:
			lastErr = ""
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(jittered(interval, jitter, rand.Float64()))
	}
}

// poll reads the head and, when it moved, fetches and describes it.
func (s *Source) poll(ctx context.Context, last string) (Update, bool) {
	head, err := s.Head(ctx)
	if err != nil {
		return Update{Err: err}, false
	}
	if head.SHA == last {
		return Update{}, false
	}
	if err := s.Fetch(ctx, head.SHA); err != nil {
		return Update{Err: err}, false
	}
	return Update{Revision: s.describe(plumbing.NewHash(head.SHA))}, true
}

func send(ctx context.Context, out chan<- Update, u Update) bool {
	select {
	case out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

// Nudge asks a running Watch to read the head now. It never blocks; nudges
// that arrive while one is pending merge into it.
func (s *Source) Nudge() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// jittered spreads d over d×(1±frac); r is uniform in [0, 1).
func jittered(d time.Duration, frac, r float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*r-1)))
}
