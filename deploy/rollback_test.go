package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// Revision 1 passes verification and is marked good; revision 2 applies
// but is never marked; revision 3 fails in the API server (a Deployment's
// selector is immutable). Rollback returns to revision 1, the last good,
// not to revision 2, the one before; the rollback is health-checked and,
// being healthy, marked good itself.
func TestFailedUpgradeThenRollbackToLastGood(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ns := lc.Namespace(t, nil)
	c, _ := testClient(t, lc, ns, "web", nil)
	ctx := context.Background()

	if _, err := c.Rollback(ctx, healthTimeout); !errors.Is(err, ErrNoGoodRevision) {
		t.Fatalf("rollback of an absent release: error %v, want ErrNoGoodRevision", err)
	}

	good := renderInput(t, "web", ns, webChart())
	mustApply(t, c, 1, good)
	mustBeHealthy(t, c, good)
	if err := c.MarkGood(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mustApply(t, c, 2, renderInput(t, "web", ns, webChart("greeting=hi")))

	broken := renderInput(t, "web", ns, webChart("selectorTier=back", "image=registry.local/web:3.0"))
	res, err := c.Apply(ctx, testRev(3), broken)
	if err == nil || !strings.Contains(err.Error(), "field is immutable") {
		t.Fatalf("apply with a changed selector: error %v, want the API server's \"field is immutable\"", err)
	}
	if res.Revision != 3 {
		t.Errorf("failed apply reports revision %d, want 3", res.Revision)
	}
	if got := statuses(historyOf(t, c)); got != "1:superseded+good 2:deployed 3:failed" {
		t.Fatalf("history after the failed upgrade = %s", got)
	}

	rb, err := c.Rollback(ctx, healthTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if rb.From != 3 || rb.To != 1 || rb.Revision != 4 {
		t.Errorf("rollback from %d to %d as %d, want from 3 to 1 as 4", rb.From, rb.To, rb.Revision)
	}
	if rb.Health.Status != ferry.HealthHealthy || rb.Health.Reason != "2/2 objects healthy" {
		t.Errorf("rollback health = %s %q, want Healthy \"2/2 objects healthy\"", rb.Health.Status, rb.Health.Reason)
	}
	h := historyOf(t, c)
	// Helm's rollback supersedes the deployed revision; the failed one stays
	// failed, as `helm history` should show it.
	if got := statuses(h); got != "1:superseded+good 2:superseded 3:failed 4:deployed+good" {
		t.Errorf("history after rollback = %s", got)
	}
	if got, want := appliedManifest(h[3]), good.Manifest; got != want {
		t.Errorf("revision 4 differs from revision 1's render at byte %d", diffOffset(got, want))
	}
	wantDesc := fmt.Sprintf("ferry rollback to good revision 1 (%s) from revision 3", testRev(1).SHA)
	if h[3].Info.Description != wantDesc {
		t.Errorf("revision 4 description = %q, want %q", h[3].Info.Description, wantDesc)
	}
	// The release is in sync with the good render again: applying it is a no-op.
	if res := mustApply(t, c, 1, good); res.Action != ActionUnchanged || res.Revision != 4 {
		t.Errorf("re-apply of the good render = %+v, want unchanged at 4", res)
	}
}

// A first install that fails leaves a release Helm will not upgrade ("has
// no deployed releases"); the next apply uninstalls it and installs clean.
func TestFailedFirstInstallIsReplaced(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ns := lc.Namespace(t, nil)
	c, _ := testClient(t, lc, ns, "web", nil)

	bad := renderInput(t, "web", ns, webChart("selectorTier=Not_A_Valid_Label_Value-"))
	if _, err := c.Apply(context.Background(), testRev(1), bad); err == nil || !strings.Contains(err.Error(), "Invalid value") {
		t.Fatalf("install of an invalid Deployment: error %v, want the API server's \"Invalid value\"", err)
	}
	if got := statuses(historyOf(t, c)); got != "1:failed" {
		t.Fatalf("history after the failed install = %s, want 1:failed", got)
	}

	r := renderInput(t, "web", ns, webChart())
	res := mustApply(t, c, 2, r)
	want := []string{"revision 1 was failed and no revision was ever deployed: uninstalled for a clean install"}
	if res.Action != ActionInstalled || res.Revision != 1 || strings.Join(res.Recovered, "|") != strings.Join(want, "|") {
		t.Errorf("apply after a failed install = %+v, want installed revision 1 recovered %q", res, want)
	}
	if got := statuses(historyOf(t, c)); got != "1:deployed" {
		t.Errorf("history = %s, want 1:deployed", got)
	}
	mustBeHealthy(t, c, r)
}

// With maxHistory 3, six revisions leave the newest three and the last good
// one, however old.
func TestMaxHistoryKeepsLastGood(t *testing.T) {
	lc := localcluster.Require(t, cluster)
	t.Parallel()
	ns := lc.Namespace(t, nil)
	c, _ := testClient(t, lc, ns, "web", func(tg *Target) { tg.MaxHistory = 3 })
	ctx := context.Background()

	mustApply(t, c, 1, renderInput(t, "web", ns, webChart()))
	if err := c.MarkGood(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= 6; n++ {
		mustApply(t, c, n, renderInput(t, "web", ns, webChart(fmt.Sprintf("greeting=hello %d", n))))
	}
	if got := statuses(historyOf(t, c)); got != "1:superseded+good 4:superseded 5:superseded 6:deployed" {
		t.Errorf("history = %s, want 1:superseded+good 4:superseded 5:superseded 6:deployed", got)
	}
}
