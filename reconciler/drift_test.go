package reconciler

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// driftChecks counts the Releaser's drift checks: one per resync of an idle
// environment.
type driftChecks struct {
	Releaser
	n *atomic.Int32
}

func (d driftChecks) Drift(ctx context.Context, r *ferry.Rendered) (string, error) {
	d.n.Add(1)
	return d.Releaser.Drift(ctx, r)
}

// driftReplies returns the thread replies that report drift.
func (f *fixture) driftReplies() []string {
	var out []string
	for _, p := range f.parents() {
		for _, r := range f.slack.Replies(p.Channel, p.TS) {
			if text := slackserver.BlockText(r); strings.Contains(text, "drifted from its release") {
				out = append(out, text)
			}
		}
	}
	return out
}

// A live object of a release edited by hand is reported in chat once,
// however many resyncs find it; without the edit, resyncs report nothing
// (the Deployment's quantities compare by value). With drift: correct the
// release is re-applied once and the object is restored; with report it is
// left as edited.
func TestDriftIsReportedOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		drift string
		// wantGreeting is the ConfigMap's value after the drift was handled.
		wantGreeting string
		// wantHelm is the release's Helm revisions in the end.
		wantHelm int
	}{
		{drift: config.DriftReport, wantGreeting: "edited by hand", wantHelm: 1},
		{drift: config.DriftCorrect, wantGreeting: "hello dev", wantHelm: 2},
	}
	for _, c := range cases {
		t.Run(c.drift, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, []envSpec{{name: "dev", drift: c.drift}}, "")
			var checks atomic.Int32
			d := f.newReplica("a", func(c *counting) { c.Releaser = driftChecks{Releaser: c.Releaser, n: &checks} }).start(t)
			sha := f.commit("first", chartFiles())
			f.waitPhase(d.Daemon, "dev", sha, ferry.PhaseSucceeded)
			ctx := context.Background()
			outboxDrained := func() {
				t.Helper()
				eventually(t, 60*time.Second, "outbox drained", func() (bool, string) {
					st, _, err := d.store.load(ctx, "app")
					if err != nil {
						return false, err.Error()
					}
					return len(st.Outbox) == 0, fmt.Sprintf("%d events left", len(st.Outbox))
				})
			}
			// waitChecks lets n more resyncs check the release.
			waitChecks := func(n int32) {
				t.Helper()
				from := checks.Load()
				eventually(t, 60*time.Second, fmt.Sprintf("%d more drift checks", n), func() (bool, string) {
					return checks.Load() >= from+n, fmt.Sprintf("%d checks", checks.Load()-from)
				})
			}

			waitChecks(3)
			outboxDrained()
			if got := f.driftReplies(); len(got) != 0 {
				t.Fatalf("drift reported for a release nobody touched: %q", got)
			}

			cms := f.admin.CoreV1().ConfigMaps(f.ns)
			cm := f.configMap("app-dev-cfg")
			cm.Data["greeting"] = "edited by hand"
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 60*time.Second, "drift reported", func() (bool, string) {
				return len(f.driftReplies()) > 0, ""
			})
			waitChecks(4)
			outboxDrained()
			got := f.driftReplies()
			if len(got) != 1 {
				t.Fatalf("drift reported %d times, want once:\n%s", len(got), strings.Join(got, "\n---\n"))
			}
			if !strings.Contains(got[0], "edited by hand") {
				t.Errorf("drift report does not show the edit:\n%s", got[0])
			}
			if c.drift == config.DriftCorrect && !strings.Contains(got[0], "re-applying it (drift: correct)") {
				t.Errorf("drift report does not say it is corrected:\n%s", got[0])
			}
			if got := f.configMap("app-dev-cfg").Data["greeting"]; got != c.wantGreeting {
				t.Errorf("greeting after %d resyncs = %q, want %q", 4, got, c.wantGreeting)
			}
			if n := f.helmRevisions("app-dev"); n != c.wantHelm {
				t.Errorf("app-dev has %d Helm revisions, want %d", n, c.wantHelm)
			}
			if got := d.releasers["dev"].applies.Load(); got != 1 {
				t.Errorf("Apply called %d times, want 1 (a correction re-applies, it is no promotion)", got)
			}
			h, err := d.History(ctx, "app", "dev", 0)
			if err != nil || len(h) != 1 || h[0].Phase != ferry.PhaseSucceeded {
				t.Errorf("dev history = %+v, %v; want the one succeeded promotion", h, err)
			}
			if len(f.parents()) != 1 {
				t.Errorf("%d revision messages, want 1", len(f.parents()))
			}
		})
	}
}
