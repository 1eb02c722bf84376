package reliability

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

// Steady-state bounds: an idle daemon may hold a few more connections or
// timers at one moment than at another, but not grow with the cycles.
const (
	idleCycles      = 500
	idleResync      = 100 * time.Millisecond
	goroutineMargin = 20
	rssMarginBytes  = 48 << 20
	heapMarginBytes = 24 << 20
)

var matchAll = regexp.MustCompile(``)

const reconcilePasses = `ferry_test_point_passes_total{point="reconcile"}`

// TestSteadyState runs 500 reconcile cycles of an idle pipeline (resync at
// test scale, nothing to promote) and checks that goroutines and memory
// stay flat, logging the figures.
func TestSteadyState(t *testing.T) {
	needWorld(t)
	ctx := t.Context()
	settle(ctx, t)
	restore := w.Config.Timing.Resync
	if err := w.Reconfigure(ctx, func(c *config.Config) { c.Timing.Resync = idleResync }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Reconfigure(context.WithoutCancel(ctx), func(c *config.Config) { c.Timing.Resync = restore }); err != nil {
			t.Errorf("restore resync: %v", err)
		}
	})
	from := logSize()
	logOnFailure(t, from)

	// Warm up: caches filled, connections open.
	first := waitPasses(ctx, t, 50)
	base := figures(ctx, t)
	start := time.Now()
	t.Logf("after %4.0f reconciles: %s", first[reconcilePasses], base)
	var samples []idle
	for {
		m := waitPasses(ctx, t, first[reconcilePasses]+float64(len(samples)+1)*idleCycles/5)
		f := figuresOf(m)
		samples = append(samples, f)
		t.Logf("after %4.0f reconciles: %s", m[reconcilePasses], f)
		if m[reconcilePasses]-first[reconcilePasses] >= idleCycles {
			break
		}
	}
	stillRunning(t)
	end := samples[len(samples)-1]
	t.Logf("%d idle reconcile cycles in %s: goroutines %.0f → %.0f, resident memory %.1f → %.1f MiB, heap in use %.1f → %.1f MiB",
		idleCycles, time.Since(start).Round(time.Second), base.goroutines, end.goroutines,
		base.rss/(1<<20), end.rss/(1<<20), base.heap/(1<<20), end.heap/(1<<20))
	if end.goroutines > base.goroutines+goroutineMargin {
		t.Errorf("goroutines grew from %.0f to %.0f over %d idle cycles", base.goroutines, end.goroutines, idleCycles)
	}
	if end.rss > base.rss+rssMarginBytes {
		t.Errorf("resident memory grew from %.1f to %.1f MiB over %d idle cycles", base.rss/(1<<20), end.rss/(1<<20), idleCycles)
	}
	if end.heap > base.heap+heapMarginBytes {
		t.Errorf("heap in use grew from %.1f to %.1f MiB over %d idle cycles", base.heap/(1<<20), end.heap/(1<<20), idleCycles)
	}
	// Idle means idle: no promotion, no Helm call.
	if lines := warnings(from, matchAll); len(lines) > 0 {
		t.Errorf("ferry warned while idle:\n%s", strings.Join(lines, "\n"))
	}
}

// idle are the figures of one sample.
type idle struct{ goroutines, rss, heap float64 }

func (f idle) String() string {
	return fmt.Sprintf("%3.0f goroutines, resident %6.1f MiB, heap in use %5.1f MiB", f.goroutines, f.rss/(1<<20), f.heap/(1<<20))
}

func figuresOf(m map[string]float64) idle {
	return idle{m["go_goroutines"], m["process_resident_memory_bytes"], m["go_memstats_heap_inuse_bytes"]}
}

func figures(ctx context.Context, t *testing.T) idle {
	t.Helper()
	m, err := scrape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := figuresOf(m)
	if f.goroutines == 0 || f.rss == 0 || f.heap == 0 {
		t.Fatalf("ferry's /metrics lacks go_goroutines, process_resident_memory_bytes or go_memstats_heap_inuse_bytes (a ferrytest build has them)")
	}
	return f
}

// waitPasses waits until ferry has started at least n reconciles and
// returns its metrics then.
func waitPasses(ctx context.Context, t *testing.T, n float64) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		m, err := scrape(ctx)
		if err == nil && m[reconcilePasses] >= n {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ferry did not reach %.0f reconciles in time (%v, %v)", n, m[reconcilePasses], err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
