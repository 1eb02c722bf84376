package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
)

// waitPromotion waits until env has a promotion that is not one of skip
// (IDs), of revision sha, in phase.
func (f *fixture) waitPromotion(d *Daemon, env, sha string, phase ferry.Phase, skip ...string) ferry.Promotion {
	f.t.Helper()
	var got ferry.Promotion
	eventually(f.t, 90*time.Second, fmt.Sprintf("a new %s promotion of %s in %s", env, short(sha), phase), func() (bool, string) {
		h, err := d.History(context.Background(), "app", env, 0)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, p := range h {
			seen = append(seen, fmt.Sprintf("%s %s:%s", p.ID, p.Revision.Short(), p.Phase))
			if p.Revision.SHA == sha && !slices.Contains(skip, p.ID) {
				got = p
				return p.Phase == phase, strings.Join(seen, " ")
			}
		}
		return false, strings.Join(seen, " ")
	})
	return got
}

// A force-push that sets the branch back to an earlier commit is a new head
// like any other: the earlier revision is promoted again, dev then staging,
// each with a new Helm revision that puts the earlier content back.
func TestForcePushRevertTravelsDevToStaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []envSpec{{name: "dev"}, {name: "staging", from: "dev"}}, "")
	sha1 := f.commit("first", chartFiles())
	d := f.newReplica("a").start(t)
	first := map[string]ferry.Promotion{}
	for _, env := range []string{"dev", "staging"} {
		first[env] = f.waitPhase(d.Daemon, env, sha1, ferry.PhaseSucceeded)
	}
	sha2 := f.commit("second", map[string]string{
		"values-dev.yaml":     "greeting: bye dev\n",
		"values-staging.yaml": "greeting: bye staging\n",
	})
	for _, env := range []string{"dev", "staging"} {
		f.waitPhase(d.Daemon, env, sha2, ferry.PhaseSucceeded)
		if got := f.configMap("app-" + env + "-cfg").Data["greeting"]; got != "bye "+env {
			t.Fatalf("%s greeting after the second commit = %q", env, got)
		}
	}

	if err := f.repo.SetBranch("main", sha1); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "staging"} {
		p := f.waitPromotion(d.Daemon, env, sha1, ferry.PhaseSucceeded, first[env].ID)
		if want := "app-" + env + "-3"; p.ID != want || p.HelmRevision != 3 {
			t.Errorf("%s revert promotion %s with Helm revision %d, want %s with 3", env, p.ID, p.HelmRevision, want)
		}
		changed := slices.Sorted(slices.Values(p.Revision.ChangedFiles))
		if !slices.Equal(changed, []string{"values-dev.yaml", "values-staging.yaml"}) {
			t.Errorf("%s revert changed files = %v, want the two values files", env, changed)
		}
		if n := f.helmRevisions("app-" + env); n != 3 {
			t.Errorf("%s has %d Helm revisions, want 3", env, n)
		}
		if got := f.configMap("app-" + env + "-cfg").Data["greeting"]; got != "hello "+env {
			t.Errorf("%s greeting after the revert = %q, want %q", env, got, "hello "+env)
		}
	}
	status, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.Current.SHA != sha1 || s.Phase != ferry.PhaseSucceeded {
			t.Errorf("status %s = %s %s, want %s Succeeded", s.Environment, s.Current.Short(), s.Phase, short(sha1))
		}
	}
	// staging took the revert only after dev had succeeded with it.
	dev, _ := d.History(context.Background(), "app", "dev", 1)
	staging, _ := d.History(context.Background(), "app", "staging", 1)
	if len(dev) == 1 && len(staging) == 1 && staging[0].Created.Before(dev[0].Ended) {
		t.Errorf("staging's revert promotion was created at %s, before dev's ended at %s", staging[0].Created, dev[0].Ended)
	}
}
