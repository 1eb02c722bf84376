package reconciler

import (
	"context"
	"sync"
	"testing"

	"github.com/ferry-gitops/ferry"
)

// A new process started in each phase of a promotion resumes it where the
// state says, without a second Helm revision and without a second chat
// message for the revision.
func TestNewProcessResumesEachPhase(t *testing.T) {
	t.Parallel()
	envs := []envSpec{{name: "dev"}, {name: "prod", from: "dev", approvers: []string{"alice"}}}
	cases := []struct {
		name string
		// interrupt installs a hook on the first replica that stops it
		// (stop is its cancel) at the phase under test.
		interrupt func(c *counting, stop func())
		// phase is what dev's promotion is recorded in when it stopped.
		phase ferry.Phase
		env   string
	}{
		{
			name: "stopped after the Applying intent, before Helm",
			interrupt: func(c *counting, stop func()) {
				c.beforeApply = func(context.Context, string) error { stop(); return context.Canceled }
			},
			phase: ferry.PhaseApplying, env: "dev",
		},
		{
			name: "stopped after Helm applied, before the result was recorded",
			interrupt: func(c *counting, stop func()) {
				c.afterApply = func(context.Context, string) error { stop(); return context.Canceled }
			},
			phase: ferry.PhaseApplying, env: "dev",
		},
		{
			name: "stopped while verifying",
			interrupt: func(c *counting, stop func()) {
				c.onHealth = func(context.Context, string) error { stop(); return context.Canceled }
			},
			phase: ferry.PhaseVerifying, env: "dev",
		},
		{
			name:      "stopped while waiting for approval",
			interrupt: func(*counting, func()) {},
			phase:     ferry.PhaseWaiting, env: "prod",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, envs, "")
			sha := f.commit("first", chartFiles())
			a := f.newReplica("a")
			var once sync.Once
			stop := func() { once.Do(func() { go a.cancel() }) }
			c.interrupt(a.releasers[c.env], stop)
			a.start(t)
			p := f.waitPhase(a.Daemon, c.env, sha, c.phase)
			if c.phase == ferry.PhaseWaiting {
				stop()
			}
			<-waitDone(a)
			// The recorded phase is still the one interrupted.
			if h, _ := a.History(context.Background(), "app", c.env, 1); len(h) != 1 || h[0].Phase != c.phase || h[0].ID != p.ID {
				t.Fatalf("after the stop %s records %+v, want %s in %s", c.env, h, p.ID, c.phase)
			}

			b := f.newReplica("b").start(t)
			f.waitPhase(b.Daemon, "dev", sha, ferry.PhaseSucceeded)
			f.waitPhase(b.Daemon, "prod", sha, ferry.PhaseWaiting)
			if err := b.Decide(context.Background(), ferry.Approval{Actor: "alice", Pipeline: "app", Environment: "prod", Revision: sha, Via: "api"}); err != nil {
				t.Fatal(err)
			}
			prod := f.waitPhase(b.Daemon, "prod", sha, ferry.PhaseSucceeded)
			if prod.ID != "app-prod-1" {
				t.Errorf("prod promotion %s, want app-prod-1 (resumed, not restarted)", prod.ID)
			}
			for _, env := range []string{"dev", "prod"} {
				if n := f.helmRevisions("app-" + env); n != 1 {
					t.Errorf("%s has %d Helm revisions, want 1", env, n)
				}
			}
			eventually(t, 30e9, "outbox drained", func() (bool, string) {
				st, _, err := b.store.load(context.Background(), "app")
				return err == nil && len(st.Outbox) == 0, ""
			})
			f.oneMessageNoReplyTwice(t)
		})
	}
}

// waitDone returns a channel closed once the replica's Run has returned.
func waitDone(r *replica) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		if r.done != nil {
			err := <-r.done
			r.done <- err
		}
		close(ch)
	}()
	return ch
}
