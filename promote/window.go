package promote

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/robfig/cron/v3"
)

// timeLayout is how times appear in reasons.
const timeLayout = time.RFC3339

// maxOpeningSteps bounds the search for openings, so no schedule can make
// the gate spin (a one-minute schedule over a week-long duration is ~10k).
const maxOpeningSteps = 100_000

// longestShift is more than any daylight-saving shift in the tz database
// (two hours), so searching from that far back in wall-clock time finds a
// repeated local time's first occurrence.
const longestShift = 3 * time.Hour

// Window is a promotion window: it opens at each activation of a cron schedule
// and stays open for Duration, counted in real time from the opening.
//
// Activations are computed in local wall-clock terms, as classic cron does,
// rather than with robfig/cron's own Next, which skips a local time that does
// not exist on a spring-forward day and fires twice in the repeated hour of
// a fall-back day. Here a local time that does not exist opens at the moment
// the clocks jump, and a local time that happens twice opens at its first
// occurrence only.
type Window struct {
	// Schedule is the schedule as written.
	Schedule string
	Duration time.Duration
	loc      *time.Location
	// wall holds the schedule's fields; it is evaluated on wall-clock times
	// expressed in UTC, where every local time exists exactly once.
	wall *cron.SpecSchedule
}

// ParseWindow reads a five-field cron schedule, optionally prefixed with
// CRON_TZ=<zone> or TZ=<zone> (UTC when absent, so a window does not move
// with the host's zone), and the time it stays open.
func ParseWindow(schedule string, d time.Duration) (Window, error) {
	if d <= 0 {
		return Window{}, fmt.Errorf("window %q: duration %s must be positive", schedule, d)
	}
	fields := strings.Fields(schedule)
	if len(fields) == 0 {
		return Window{}, errors.New("window schedule is empty")
	}
	loc := time.UTC
	if zone, ok := zonePrefix(fields[0]); ok {
		if zone == "" {
			return Window{}, fmt.Errorf("window %q: time zone is empty", schedule)
		}
		if len(fields) == 1 {
			return Window{}, fmt.Errorf("window %q: time zone %s but no schedule fields; use e.g. \"CRON_TZ=%s 0 9 * * 1-5\"", schedule, zone, zone)
		}
		l, err := time.LoadLocation(zone)
		if err != nil {
			return Window{}, fmt.Errorf("window %q: unknown time zone %q: %w", schedule, zone, err)
		}
		loc = l
		fields = fields[1:]
		if _, again := zonePrefix(fields[0]); again {
			return Window{}, fmt.Errorf("window %q: more than one time zone", schedule)
		}
	}
	parsed, err := cron.ParseStandard(strings.Join(fields, " "))
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", schedule, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return Window{}, fmt.Errorf("window %q: only calendar schedules open windows, not @every", schedule)
	}
	spec.Location = time.UTC
	return Window{Schedule: schedule, Duration: d, loc: loc, wall: spec}, nil
}

func zonePrefix(field string) (string, bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if z, ok := strings.CutPrefix(field, p); ok {
			return z, true
		}
	}
	return "", false
}

// NextOpening returns the first opening strictly after t; ok is false when the
// schedule never fires (as "0 0 30 2 *").
func (w Window) NextOpening(t time.Time) (time.Time, bool) {
	wall := w.wallClock(t).Add(-longestShift)
	for range maxOpeningSteps {
		wall = w.wall.Next(wall)
		if wall.IsZero() {
			return time.Time{}, false
		}
		if at := w.instant(wall); at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// OpenAt reports whether the window is open at t and, if so, when it opened
// and when it closes: the latest opening at or before t, plus Duration.
func (w Window) OpenAt(t time.Time) (opened, closes time.Time, open bool) {
	at, ok := w.NextOpening(t.Add(-w.Duration))
	for steps := 0; ok && !at.After(t) && steps < maxOpeningSteps; steps++ {
		opened, open = at, true
		at, ok = w.NextOpening(at)
	}
	if !open {
		return time.Time{}, time.Time{}, false
	}
	return opened, opened.Add(w.Duration), true
}

// wallClock is t's local time in the window's zone, written as UTC.
func (w Window) wallClock(t time.Time) time.Time {
	l := t.In(w.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// instant maps a wall-clock time (written as UTC) to the moment it happens
// in the window's zone: its first occurrence when it happens twice, the
// moment the clocks jump past it when it does not happen at all.
func (w Window) instant(wall time.Time) time.Time {
	var candidates []time.Time
	seen := map[int]bool{}
	for _, probe := range []time.Time{wall.Add(-24 * time.Hour), wall, wall.Add(24 * time.Hour)} {
		_, off := probe.In(w.loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		candidates = append(candidates, wall.Add(-time.Duration(off)*time.Second))
	}
	var first, latest time.Time
	for _, c := range candidates {
		if c.After(latest) {
			latest = c
		}
		if w.wallClock(c).Equal(wall) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if !first.IsZero() {
		return first
	}
	// In a gap, reading the wall time with the offset from before the jump
	// lands just after the jump, in the zone period that the jump starts.
	start, _ := latest.In(w.loc).ZoneBounds()
	return start
}

// WindowGate passes when any window is open at now; otherwise it is Pending
// with Until set to the earliest next opening.
func WindowGate(windows []Window, now time.Time) ferry.GateResult {
	g := ferry.GateResult{Gate: "window", Started: now, Ended: now}
	if len(windows) == 0 {
		g.Verdict, g.Reason = ferry.VerdictPassed, "no promotion windows: always open"
		return g
	}
	var next time.Time
	var nextWindow Window
	for _, w := range windows {
		if opened, closes, open := w.OpenAt(now); open {
			g.Verdict = ferry.VerdictPassed
			g.Reason = fmt.Sprintf("window %q open since %s until %s", w.Schedule, opened.In(w.loc).Format(timeLayout), closes.In(w.loc).Format(timeLayout))
			g.Figures = []ferry.Figure{{Name: "opened", Value: opened.UTC().Format(timeLayout)}, {Name: "closes", Value: closes.UTC().Format(timeLayout)}}
			return g
		}
		if at, ok := w.NextOpening(now); ok && (next.IsZero() || at.Before(next)) {
			next, nextWindow = at, w
		}
	}
	if next.IsZero() {
		g.Verdict, g.Reason = ferry.VerdictError, "no promotion window ever opens"
		return g
	}
	g.Verdict, g.Until = ferry.VerdictPending, next
	g.Reason = fmt.Sprintf("outside promotion windows; %q opens next at %s", nextWindow.Schedule, next.In(nextWindow.loc).Format(timeLayout))
	g.Figures = []ferry.Figure{{Name: "opens", Value: next.UTC().Format(timeLayout)}}
	return g
}
