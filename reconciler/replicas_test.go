package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/ferry-gitops/ferry"
)

// fence reads the pipeline's state as an outsider (the admin client) and
// returns the replica its fence names.
func (f *fixture) fence() string {
	f.t.Helper()
	s := &store{client: f.admin, namespace: f.ns}
	st, _, err := s.load(context.Background(), "app")
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Leader
}

// lease returns the leader Lease's holder.
func (f *fixture) leaseHolder() string {
	f.t.Helper()
	l, err := f.admin.CoordinationV1().Leases(f.ns).Get(context.Background(), f.cfg.State.LeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// waitLeader waits until r leads (holds the Lease and has claimed the fence).
func (f *fixture) waitLeader(r *replica) {
	f.t.Helper()
	eventually(f.t, 60*time.Second, r.identity+" leading", func() (bool, string) {
		return r.IsLeader() && f.fence() == r.identity, fmt.Sprintf("leader=%v fence=%q lease=%q", r.IsLeader(), f.fence(), f.leaseHolder())
	})
}

// errKilled is what a killed replica's API calls fail with.
var errKilled = errors.New("test killed this replica: no request leaves it")

// killSwitch is a transport that fails every request once killed, as if the
// process had died: nothing it would still send (a state write, the Lease
// release) reaches the API server.
type killSwitch struct {
	next   http.RoundTripper
	killed atomic.Bool
}

func (k *killSwitch) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.killed.Load() {
		return nil, errKilled
	}
	return k.next.RoundTrip(r)
}

// killable moves the replica's state and Lease client onto a transport that
// can be cut; it returns the function that cuts it. The environments'
// Releasers keep their own clients: the hooks that kill stop Helm calls.
func (f *fixture) killable(r *replica) (kill func()) {
	f.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		f.t.Fatal(err)
	}
	rc.QPS, rc.Burst = 50, 100
	ks := &killSwitch{}
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { ks.next = rt; return ks }
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	r.client, r.store.client = client, client
	return func() { ks.killed.Store(true) }
}

// A leader whose fence was taken by another replica between reading the
// state and writing the Applying intent does not call Helm: the intent
// write, conditional on the version it read, conflicts, the re-read names
// the other replica, and it stops. The intent write is caught with the
// daemon's beforeIntent hook at the step that records the admission result
// (dev has no approval, so that write moves the promotion to Applying).
func TestDeposedLeaderDoesNotCallHelm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// standby runs a second replica "b" from the start.
		standby bool
		// takeOver runs inside a's intent write, before it is sent.
		takeOver func(t *testing.T, f *fixture, b *replica)
		// wantLeader is who leads and applied once the promotion succeeded.
		wantLeader string
	}{
		{
			name:    "standby took the lease and claimed the fence",
			standby: true,
			takeOver: func(t *testing.T, f *fixture, b *replica) {
				// a's lease lapsed (a long pause, a partition) and b acquired
				// it: the Lease names b, whose elector renews it and leads.
				// a renews meanwhile: retry on conflict.
				ctx := context.Background()
				leases := f.admin.CoordinationV1().Leases(f.ns)
				err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					l, err := leases.Get(ctx, f.cfg.State.LeaseName, metav1.GetOptions{})
					if err != nil {
						return err
					}
					now := metav1.NewMicroTime(time.Now())
					l.Spec.HolderIdentity, l.Spec.RenewTime, l.Spec.AcquireTime = new("b"), &now, &now
					_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				deadline := time.Now().Add(60 * time.Second)
				for f.fence() != "b" && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
			},
			wantLeader: "b",
		},
		{
			name: "fence written by another replica while a still holds the lease",
			takeOver: func(t *testing.T, f *fixture, _ *replica) {
				s := &store{client: f.admin, namespace: f.ns}
				if err := s.update(context.Background(), "app", func(st *pipelineState) error {
					st.Leader = "b"
					return nil
				}); err != nil {
					t.Error(err)
				}
			},
			// a steps down, gives the Lease back, wins it again (nobody
			// else stands by), claims the fence anew and then applies.
			wantLeader: "a",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, []envSpec{{name: "dev"}}, "")
			a := f.newReplica("a")
			var b *replica
			if c.standby {
				b = f.newReplica("b")
			}
			// Every Helm call is checked against the fence as stored: a
			// replica the fence does not name must not make one.
			var mu sync.Mutex
			var violations []string
			guard := func(r *replica) {
				r.releasers["dev"].beforeApply = func(context.Context, string) error {
					if holder := f.fence(); holder != r.identity {
						mu.Lock()
						violations = append(violations, fmt.Sprintf("%s called Helm while the fence named %q", r.identity, holder))
						mu.Unlock()
					}
					return nil
				}
			}
			guard(a)
			if b != nil {
				guard(b)
			}

			var tookOver atomic.Bool
			var appliesAtTakeOver atomic.Int32
			a.beforeIntent = func(k envKey) {
				if k.env != "dev" || tookOver.Load() {
					return
				}
				st, _, err := (&store{client: f.admin, namespace: f.ns}).load(context.Background(), "app")
				if err != nil {
					return
				}
				// The stored promotion is waiting for admission: the write
				// about to be made records it admitted and Applying.
				act := st.env("dev").Active
				if act == nil || act.Phase != ferry.PhaseWaiting || !act.Admitted.IsZero() {
					return
				}
				tookOver.Store(true)
				appliesAtTakeOver.Store(a.releasers["dev"].applies.Load())
				c.takeOver(t, f, b)
			}

			a.start(t)
			f.waitLeader(a)
			if b != nil {
				b.start(t)
			}
			sha := f.commit("first", chartFiles())
			leader := a
			if c.wantLeader == "b" {
				leader = b
			}
			p := f.waitPhase(leader.Daemon, "dev", sha, ferry.PhaseSucceeded)
			f.waitLeader(leader)

			if !tookOver.Load() {
				t.Fatal("the Applying intent write of a was never reached")
			}
			if n := appliesAtTakeOver.Load(); n != 0 {
				t.Errorf("a had called Helm %d times before the fence was taken, want 0", n)
			}
			mu.Lock()
			for _, v := range violations {
				t.Error(v)
			}
			mu.Unlock()
			if n := f.helmRevisions("app-dev"); n != 1 {
				t.Errorf("app-dev has %d Helm revisions, want 1", n)
			}
			if p.HelmRevision != 1 || p.ID != "app-dev-1" {
				t.Errorf("dev promotion %s with Helm revision %d, want app-dev-1 with 1", p.ID, p.HelmRevision)
			}
			wantApplies := map[string]int32{"a": 0, "b": 0}
			wantApplies[c.wantLeader] = 1
			for _, r := range []*replica{a, b} {
				if r == nil {
					continue
				}
				if got := r.releasers["dev"].applies.Load(); got != wantApplies[r.identity] {
					t.Errorf("%s called Apply %d times, want %d", r.identity, got, wantApplies[r.identity])
				}
			}
			if c.standby && a.IsLeader() {
				t.Errorf("deposed a still says it leads")
			}
			if got := f.leaseHolder(); got != c.wantLeader {
				t.Errorf("Lease held by %q, want %q", got, c.wantLeader)
			}
		})
	}
}

// Two replicas; the leader dies hard in the middle of dev's promotion (no
// request leaves it any more: no state write, no Lease release), so the
// standby acquires the Lease only once it has expired, resumes the recorded
// promotion and finishes it, and staging's after it, exactly once: one Helm
// revision per release, one Slack message for the revision, no thread reply
// twice.
func TestStandbyFinishesPromotionOfKilledLeader(t *testing.T) {
	t.Parallel()
	envs := []envSpec{{name: "dev"}, {name: "staging", from: "dev"}}
	cases := []struct {
		name string
		// arm installs the hook that kills a (die) at the moment under test.
		arm func(c *counting, die func())
		// aApplies is how many times a called Apply on dev before dying.
		aApplies int32
		// phase is what dev's promotion is recorded in when a died.
		phase ferry.Phase
	}{
		{
			name: "killed right after the Applying intent",
			arm: func(c *counting, die func()) {
				c.beforeApply = func(context.Context, string) error { die(); return errStop }
			},
			aApplies: 0, phase: ferry.PhaseApplying,
		},
		{
			name: "killed after Helm applied, before the result was recorded",
			arm: func(c *counting, die func()) {
				c.afterApply = func(context.Context, string) error { die(); return errStop }
			},
			aApplies: 1, phase: ferry.PhaseApplying,
		},
		{
			name: "killed while verifying",
			arm: func(c *counting, die func()) {
				c.onHealth = func(context.Context, string) error { die(); return errStop }
			},
			aApplies: 1, phase: ferry.PhaseVerifying,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, envs, "")
			a := f.newReplica("a")
			kill := f.killable(a)
			var once sync.Once
			died := make(chan struct{})
			c.arm(a.releasers["dev"], func() {
				once.Do(func() {
					kill()
					close(died)
					go a.cancel()
				})
			})
			a.start(t)
			f.waitLeader(a)
			b := f.newReplica("b").start(t)
			sha := f.commit("first", chartFiles())

			select {
			case <-died:
			case <-time.After(90 * time.Second):
				t.Fatal("a never reached the moment it is killed at")
			}
			<-waitDone(a)
			// What a recorded before it died is all there is.
			if h, err := b.History(context.Background(), "app", "dev", 1); err != nil || len(h) != 1 || h[0].Phase != c.phase || h[0].ID != "app-dev-1" {
				t.Fatalf("after a died dev records %+v (%v), want app-dev-1 in %s", h, err, c.phase)
			}
			if got := f.leaseHolder(); got != "a" {
				t.Errorf("Lease held by %q right after a died, want a (a dead process releases nothing)", got)
			}

			f.waitLeader(b)
			dev := f.waitPhase(b.Daemon, "dev", sha, ferry.PhaseSucceeded)
			staging := f.waitPhase(b.Daemon, "staging", sha, ferry.PhaseSucceeded)
			if dev.ID != "app-dev-1" || dev.HelmRevision != 1 {
				t.Errorf("dev promotion %s with Helm revision %d, want app-dev-1 (resumed) with 1", dev.ID, dev.HelmRevision)
			}
			if staging.ID != "app-staging-1" || staging.HelmRevision != 1 {
				t.Errorf("staging promotion %s with Helm revision %d, want app-staging-1 with 1", staging.ID, staging.HelmRevision)
			}
			for _, env := range []string{"dev", "staging"} {
				if n := f.helmRevisions("app-" + env); n != 1 {
					t.Errorf("%s has %d Helm revisions, want 1", env, n)
				}
			}
			if got := a.releasers["dev"].applies.Load(); got != c.aApplies {
				t.Errorf("a called Apply on dev %d times, want %d", got, c.aApplies)
			}
			if got := a.releasers["staging"].applies.Load(); got != 0 {
				t.Errorf("dead a called Apply on staging %d times", got)
			}
			if got := b.releasers["staging"].applies.Load(); got != 1 {
				t.Errorf("b called Apply on staging %d times, want 1", got)
			}
			if got := f.configMap("app-staging-cfg").Data["greeting"]; got != "hello staging" {
				t.Errorf("staging greeting = %q", got)
			}
			eventually(t, 60*time.Second, "outbox drained", func() (bool, string) {
				st, _, err := b.store.load(context.Background(), "app")
				if err != nil {
					return false, err.Error()
				}
				return len(st.Outbox) == 0, fmt.Sprintf("%d events left", len(st.Outbox))
			})
			f.oneMessageNoReplyTwice(t)
			if a.IsLeader() || !b.IsLeader() || f.fence() != "b" {
				t.Errorf("a leads %v, b leads %v, fence names %q; want b alone", a.IsLeader(), b.IsLeader(), f.fence())
			}
		})
	}
}
