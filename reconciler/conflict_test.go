package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry"
)

// stateWriter is a store of the fixture's state on a client of its own, as
// another process would have.
func (f *fixture) stateWriter() *store {
	f.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		f.t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	return &store{client: client, namespace: f.ns}
}

// Two writers on one state ConfigMap: a write conditional on a version
// another writer has replaced is refused (errStale) and changes nothing,
// and update re-reads and re-applies, so concurrent updates lose nothing.
func TestConflictingStateWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, w1, w2 *store)
	}{
		{
			name: "two creates: one wins, the other is stale",
			run: func(t *testing.T, w1, w2 *store) {
				s1, s2 := newPipelineState("app"), newPipelineState("app")
				s1.Leader, s2.Leader = "one", "two"
				_, err1 := w1.save(ctx, s1, "")
				_, err2 := w2.save(ctx, s2, "")
				if err1 != nil || !errors.Is(err2, errStale) {
					t.Fatalf("creates = %v, %v; want nil, errStale", err1, err2)
				}
				if st, _, _ := w2.load(ctx, "app"); st.Leader != "one" {
					t.Errorf("stored leader %q, want one", st.Leader)
				}
			},
		},
		{
			name: "a write on a replaced version is refused and changes nothing",
			run: func(t *testing.T, w1, w2 *store) {
				if _, err := w1.save(ctx, newPipelineState("app"), ""); err != nil {
					t.Fatal(err)
				}
				st1, rv1, err := w1.load(ctx, "app")
				if err != nil {
					t.Fatal(err)
				}
				st2, rv2, err := w2.load(ctx, "app")
				if err != nil {
					t.Fatal(err)
				}
				st1.env("dev").Paused = true
				st2.Nudges = 7
				if _, err := w1.save(ctx, st1, rv1); err != nil {
					t.Fatal(err)
				}
				if _, err := w2.save(ctx, st2, rv2); !errors.Is(err, errStale) {
					t.Fatalf("stale save = %v, want errStale", err)
				}
				got, _, err := w2.load(ctx, "app")
				if err != nil {
					t.Fatal(err)
				}
				if !got.env("dev").Paused || got.Nudges != 0 {
					t.Errorf("stored paused=%v nudges=%d, want paused and 0 nudges (the stale write lost)", got.env("dev").Paused, got.Nudges)
				}
				// update re-reads: its change lands on top of the first.
				if err := w2.update(ctx, "app", func(st *pipelineState) error { st.Nudges = 7; return nil }); err != nil {
					t.Fatal(err)
				}
				got, _, _ = w1.load(ctx, "app")
				if !got.env("dev").Paused || got.Nudges != 7 {
					t.Errorf("after update paused=%v nudges=%d, want both writes", got.env("dev").Paused, got.Nudges)
				}
			},
		},
		{
			name: "concurrent updates from both writers lose nothing",
			run: func(t *testing.T, w1, w2 *store) {
				const workers, each = 4, 10
				var wg sync.WaitGroup
				errs := make(chan error, 2*workers*each)
				for i := range 2 * workers {
					w := []*store{w1, w2}[i%2]
					wg.Go(func() {
						for j := range each {
							errs <- w.update(ctx, "app", func(st *pipelineState) error {
								st.Nudges++
								st.env("dev").audit(ferry.AuditEntry{Actor: fmt.Sprintf("w%d", i), Action: "pause", Detail: fmt.Sprint(j)})
								return nil
							})
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				st, _, err := w1.load(ctx, "app")
				if err != nil {
					t.Fatal(err)
				}
				if st.Nudges != 2*workers*each {
					t.Errorf("nudges = %d, want %d", st.Nudges, 2*workers*each)
				}
				if n := len(st.env("dev").Audit); n != min(2*workers*each, maxAudit) {
					t.Errorf("%d audit entries, want %d", n, min(2*workers*each, maxAudit))
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, []envSpec{{name: "dev"}}, "")
			c.run(t, f.stateWriter(), f.stateWriter())
		})
	}
}

// While the leader promotes (its own writes: phases, chat message states,
// outbox), two other replicas write into the same state at once: webhook
// nudges, resumes and prod's approval. Every write lands: the nudge count and
// audit trail are complete, the approval is acted on, and the leader's
// promotion and chat are whole.
func TestConflictingWritesDuringPromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, threeEnvs, "")
	a := f.newReplica("a").start(t)
	b, c := f.newReplica("b"), f.newReplica("c")
	f.waitLeader(a)
	ctx := context.Background()
	sha := f.commit("first", chartFiles())

	const nudges, resumes = 15, 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*resumes+1)
	for _, r := range []*replica{b, c} {
		wg.Go(func() {
			for range nudges {
				r.Nudge("app")
			}
		})
		wg.Go(func() {
			for range resumes {
				errs <- r.SetPaused(ctx, "app", "prod", false, "carol-"+r.identity)
			}
		})
	}
	f.waitPhase(b.Daemon, "prod", sha, ferry.PhaseWaiting)
	wg.Go(func() {
		errs <- b.Decide(ctx, ferry.Approval{Actor: "alice", Pipeline: "app", Environment: "prod", Revision: sha, Via: "slack"})
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	prod := f.waitPhase(a.Daemon, "prod", sha, ferry.PhaseSucceeded)
	if len(prod.Approvals) != 1 || prod.Approvals[0].Actor != "alice" {
		t.Errorf("prod approvals = %+v, want alice's", prod.Approvals)
	}
	st, _, err := c.store.load(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if st.Nudges != 2*nudges {
		t.Errorf("nudges recorded = %d, want %d", st.Nudges, 2*nudges)
	}
	count := map[string]int{}
	for _, e := range st.env("prod").Audit {
		count[e.Actor+" "+e.Action]++
	}
	want := map[string]int{"carol-b resume": resumes, "carol-c resume": resumes, "alice approve": 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("prod audit has %d × %q, want %d (all: %v)", count[k], k, n, count)
		}
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if n := f.helmRevisions("app-" + env); n != 1 {
			t.Errorf("%s has %d Helm revisions, want 1", env, n)
		}
	}
	eventually(t, 60*time.Second, "outbox drained", func() (bool, string) {
		st, _, err := a.store.load(ctx, "app")
		if err != nil {
			return false, err.Error()
		}
		return len(st.Outbox) == 0, fmt.Sprintf("%d events left", len(st.Outbox))
	})
	if n := len(f.parents()); n != 1 {
		t.Errorf("%d revision messages, want 1", n)
	}
	if f.fence() != "a" {
		t.Errorf("fence names %q, want a", f.fence())
	}
}
