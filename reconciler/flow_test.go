package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

var threeEnvs = []envSpec{
	{name: "dev"},
	{name: "staging", from: "dev"},
	{name: "prod", from: "staging", approvers: []string{"alice"}},
}

// A push flows dev → staging → prod, prod waiting for alice's approval,
// which goes through the shared state; then a change to values-prod.yaml
// alone reaches prod while dev and staging succeed at once without a new
// Helm revision.
func TestPushFlowsToProdWithApprovalAndValuesProdChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, threeEnvs, "")
	sha1 := f.commit("first", chartFiles())
	d := f.newReplica("a").start(t)
	ctx := context.Background()

	f.waitPhase(d.Daemon, "dev", sha1, ferry.PhaseSucceeded)
	f.waitPhase(d.Daemon, "staging", sha1, ferry.PhaseSucceeded)
	waiting := f.waitPhase(d.Daemon, "prod", sha1, ferry.PhaseWaiting)
	if waiting.Reason == "" {
		t.Errorf("waiting prod promotion has no reason")
	}

	decisions := []struct {
		name string
		a    ferry.Approval
		want error
	}{
		{"non-approver is forbidden", ferry.Approval{Actor: "bob", Revision: sha1}, ferry.ErrForbidden},
		{"revision not waiting is a conflict", ferry.Approval{Actor: "alice", Revision: "0123456789abcdef"}, ferry.ErrConflict},
		{"unknown environment is not found", ferry.Approval{Actor: "alice", Revision: sha1, Environment: "qa"}, ferry.ErrNotFound},
		{"staging needs no approval", ferry.Approval{Actor: "alice", Revision: sha1, Environment: "staging"}, ferry.ErrConflict},
	}
	for _, c := range decisions {
		c.a.Pipeline, c.a.Via = "app", "api"
		if c.a.Environment == "" {
			c.a.Environment = "prod"
		}
		if err := d.Decide(ctx, c.a); !errors.Is(err, c.want) {
			t.Errorf("%s: Decide = %v, want %v", c.name, err, c.want)
		}
	}
	if err := d.Decide(ctx, ferry.Approval{Actor: "bob", Pipeline: "app", Environment: "prod", Revision: sha1}); err == nil || err.Error() != "you are not an approver for prod: forbidden" {
		t.Errorf("non-approver message = %v", err)
	}
	if err := d.Decide(ctx, ferry.Approval{Actor: "alice", Pipeline: "app", Environment: "prod", Revision: sha1[:7], Via: "api"}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	prod := f.waitPhase(d.Daemon, "prod", sha1, ferry.PhaseSucceeded)
	if len(prod.Approvals) != 1 || prod.Approvals[0].Actor != "alice" || prod.Approvals[0].Revision != sha1 {
		t.Errorf("prod approvals = %+v, want alice's of %s", prod.Approvals, sha1)
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if n := f.helmRevisions("app-" + env); n != 1 {
			t.Errorf("%s has %d Helm revisions after the first push, want 1", env, n)
		}
	}
	if got := f.configMap("app-prod-cfg").Data["greeting"]; got != "hello prod" {
		t.Errorf("prod greeting = %q", got)
	}
	audit, err := d.Audit(ctx, "app", "prod", 0)
	if err != nil || len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Action != "approve" || audit[0].Revision != sha1 {
		t.Errorf("prod audit = %+v, %v; want alice's approval of %s", audit, err, sha1)
	}

	// values-prod.yaml alone changes.
	sha2 := f.commit("prod greeting", map[string]string{"values-prod.yaml": "greeting: bonjour prod\n"})
	dev2 := f.waitPhase(d.Daemon, "dev", sha2, ferry.PhaseSucceeded)
	staging2 := f.waitPhase(d.Daemon, "staging", sha2, ferry.PhaseSucceeded)
	for _, p := range []ferry.Promotion{dev2, staging2} {
		if p.HelmRevision != 0 {
			t.Errorf("%s: unchanged render made Helm revision %d", p.Environment, p.HelmRevision)
		}
		if !slices.Equal(p.Revision.ChangedFiles, []string{"values-prod.yaml"}) {
			t.Errorf("%s: changed files %v, want [values-prod.yaml]", p.Environment, p.Revision.ChangedFiles)
		}
	}
	f.waitPhase(d.Daemon, "prod", sha2, ferry.PhaseWaiting)
	if err := d.Decide(ctx, ferry.Approval{Actor: "alice", Pipeline: "app", Environment: "prod", Revision: sha2, Via: "slack"}); err != nil {
		t.Fatalf("approve sha2: %v", err)
	}
	prod2 := f.waitPhase(d.Daemon, "prod", sha2, ferry.PhaseSucceeded)
	if prod2.HelmRevision != 2 {
		t.Errorf("prod Helm revision for sha2 = %d, want 2", prod2.HelmRevision)
	}
	want := map[string]int{"dev": 1, "staging": 1, "prod": 2}
	for env, n := range want {
		if got := f.helmRevisions("app-" + env); got != n {
			t.Errorf("%s has %d Helm revisions, want %d", env, got, n)
		}
	}
	if got := f.configMap("app-prod-cfg").Data["greeting"]; got != "bonjour prod" {
		t.Errorf("prod greeting = %q, want bonjour prod", got)
	}
	eventually(t, 30e9, "chat outbox drained", func() (bool, string) {
		st, _, err := d.store.load(ctx, "app")
		return err == nil && len(st.Outbox) == 0, ""
	})
	parents := f.parents()
	if len(parents) != 2 {
		t.Fatalf("slack has %d revision messages, want 2 (one per revision)", len(parents))
	}
	status, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.Current.SHA != sha2 || s.Phase != ferry.PhaseSucceeded {
			t.Errorf("status %s = %s %s, want %s Succeeded", s.Environment, s.Current.Short(), s.Phase, short(sha2))
		}
	}
}

// Pipelines that follow one branch of one repository share its Git cache:
// a push is fetched once for all of them, and each still takes it through
// its own environments.
func TestPipelinesOnOneBranchFetchOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []envSpec{{name: "dev"}}, "")
	var b strings.Builder
	for _, p := range []string{"app", "app2", "app3"} {
		fmt.Fprintf(&b, `  - name: %s
    source: {url: %q, branch: main, interval: 200ms}
    chart: chart
    environments:
      - {name: dev, kubeconfig: %q, namespace: %s, release: %s-dev, values: [values-dev.yaml], gates: {health: {timeout: 20s}}}
`, p, f.git.HTTPURL("app"), f.kubeconfig, f.ns, p)
	}
	text := strings.Replace(f.yaml, f.yaml[strings.Index(f.yaml, "  - name: app\n"):strings.Index(f.yaml, "chat:\n")], b.String(), 1)
	var err error
	if f.cfg, err = config.Parse("ferry.yaml", []byte(text), config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}); err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	sha := f.commit("first", chartFiles())
	f.git.ResetStats()
	// A cache an older ferry kept per pipeline is removed at start; what
	// else the directory holds is not ferry's to judge.
	gitDir := filepath.Join(f.dataDir, "a", "git")
	for _, d := range []string{"app/objects", "app2", "notes/objects"} {
		if err := os.MkdirAll(filepath.Join(gitDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := f.newReplica("a").start(t)
	for _, p := range []string{"app", "app2", "app3"} {
		eventually(t, 30*time.Second, p+" dev succeeded", func() (bool, string) {
			hist, err := d.History(context.Background(), p, "dev", 1)
			if err != nil || len(hist) == 0 {
				return false, fmt.Sprint(hist, err)
			}
			return hist[0].Revision.SHA == sha && hist[0].Phase == ferry.PhaseSucceeded, fmt.Sprint(hist[0])
		})
	}
	if got := f.git.Stats().Negotiations; got != 1 {
		t.Errorf("fetches for three pipelines on one branch = %d, want 1", got)
	}
	if d.pipelines["app"].source != d.pipelines["app3"].source {
		t.Errorf("pipelines on one branch do not share their Git source")
	}
	entries, err := os.ReadDir(gitDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{cacheName(f.cfg.Pipelines[0].Source), "app2", "notes"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("git data directory holds %q, want %q", names, want)
	}
}
