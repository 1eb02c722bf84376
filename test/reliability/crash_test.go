package reliability

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/reconciler"
)

// TestCrashAtEveryStep makes ferry exit hard (os.Exit(3), no cleanup) at
// each crash point of a promotion in turn, starts it again without the
// crash point, and checks that the promotion ended as if nothing happened:
// Succeeded once in the history, one Helm revision of it deployed (after
// Helm's recovery when the crash left it pending), none pending, one
// revision message in chat and no thread reply twice.
func TestCrashAtEveryStep(t *testing.T) {
	needWorld(t)
	for _, point := range reconciler.CrashPoints() {
		t.Run(point, func(t *testing.T) {
			interrupt(t, point, "FERRY_TEST_CRASH_AT", func(t *testing.T, exit error) {
				var ee *exec.ExitError
				if !errors.As(exit, &ee) || ee.ExitCode() != 3 {
					t.Fatalf("ferry ended with %v, want exit status 3 from the crash point", exit)
				}
			})
		})
	}
}

// TestSIGTERMAtEveryStep sends ferry SIGTERM at each step: it stops
// cleanly (exit status 0) with no Helm revision pending, and once started
// again finishes the promotion exactly once.
func TestSIGTERMAtEveryStep(t *testing.T) {
	needWorld(t)
	for _, point := range reconciler.CrashPoints() {
		t.Run(point, func(t *testing.T) {
			interrupt(t, point, "FERRY_TEST_SIGTERM_AT", func(t *testing.T, exit error) {
				if exit != nil {
					t.Errorf("ferry ended with %v after SIGTERM, want a clean exit", exit)
				}
				noPending(t.Context(), t)
			})
		})
	}
}

// interrupt runs one case: ferry started with variable=point, a push, the
// process's end checked by ended, a restart without the variable, and the
// promotion's outcome checked.
func interrupt(t *testing.T, point, variable string, ended func(*testing.T, error)) {
	ctx := t.Context()
	settle(ctx, t)
	from := logSize()
	logOnFailure(t, from)
	before := lastVersion(ctx, t)
	prev, err := w.Deployed(ctx, env)
	if err != nil {
		t.Fatal(err)
	}

	restartWith(ctx, t, variable+"="+point)
	sha := push(ctx, t, point)
	nudge(ctx)
	ended(t, waitExit(ctx, t))
	if !strings.Contains(logSince(from, 0)+"\n", " at crash point "+point+"\n") {
		t.Errorf("ferry's log does not say it stopped at crash point %s", point)
	}
	if t.Failed() {
		return
	}
	t.Logf("ferry stopped at %s; starting it again", point)
	if err := w.StartFerry(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	if _, err := w.WaitFor(wctx, env, sha, ferry.PhaseSucceeded); err != nil {
		t.Fatal(err)
	}
	waitOutboxEmpty(wctx, t)

	// Helm: one deployed revision of sha; a crash while Helm worked leaves
	// the revision it was writing failed, rolled back to what ran before,
	// then the clean apply.
	got := helmSince(ctx, t, before)
	want := []string{"deployed " + sha[:7]}
	if point == reconciler.CrashHelmApplying && variable == "FERRY_TEST_CRASH_AT" {
		want = []string{"failed " + sha[:7], "superseded " + prev.SHA[:7], "deployed " + sha[:7]}
	}
	if len(got) != len(want) {
		t.Errorf("Helm revisions after %d: %s\nwant %v", before, describeHelm(got), want)
	} else {
		for i, h := range got {
			if s := h.Status + " " + h.SHA[:min(7, len(h.SHA))]; s != want[i] {
				t.Errorf("Helm revisions after %d: %s\nwant %v", before, describeHelm(got), want)
				break
			}
		}
		if last := got[len(got)-1]; !last.Good {
			t.Errorf("Helm revision %d of %.7s is not marked good", last.Version, sha)
		}
	}
	noPending(ctx, t)
	checkHistory(ctx, t, sha)
	checkChat(t, sha)
}
