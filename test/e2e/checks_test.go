package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/harness"
)

// helmRecord is one expected Helm revision: the story's revision name it
// was rendered from, Helm's status and whether ferry marked it good.
type helmRecord struct {
	rev    string
	status string
	good   bool
}

// checkHelm compares every release's Helm records with what the story
// applied: version by version, the Git revision recorded, the status and
// the good mark; and a revert's render digest equals the one it restores.
func checkHelm(ctx context.Context, t *testing.T, w *harness.World, s *harness.Story) {
	want := map[string][]helmRecord{
		"dev": {
			{harness.RevInitial, "superseded", true},
			{harness.RevCPU, "superseded", true},
			{harness.RevBadImage, "superseded", false},
			{harness.RevBadImageRevert, "superseded", true},
			{harness.RevOverQuota, "superseded", false},
			{harness.RevOverQuotaRevert, "superseded", true},
			{harness.RevChown, "superseded", true},
			{harness.RevChownRevert, "deployed", true},
		},
		"staging": {
			{harness.RevInitial, "superseded", true},
			{harness.RevStagingTypo, "superseded", false},
			// Helm's rollback copies revision 1, labels included.
			{harness.RevInitial, "deployed", true},
		},
		"prod": {
			{harness.RevInitial, "deployed", true},
		},
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		got, err := w.HelmHistory(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		var gotRows, wantRows []string
		for i, h := range got {
			gotRows = append(gotRows, fmt.Sprintf("%d %s %s good=%t", h.Version, revName(s, h.SHA), h.Status, h.Good))
			if h.Version != i+1 {
				t.Errorf("%s: Helm record %d has version %d; ferry prunes nothing below maxHistory 10", env, i+1, h.Version)
			}
		}
		for i, r := range want[env] {
			wantRows = append(wantRows, fmt.Sprintf("%d %s %s good=%t", i+1, r.rev, r.status, r.good))
		}
		if !slices.Equal(gotRows, wantRows) {
			t.Errorf("%s's Helm records:\n got %s\nwant %s", env, strings.Join(gotRows, "\n     "), strings.Join(wantRows, "\n     "))
			continue
		}
		// Equal renders give equal digests: the reverts restore the digest
		// of the CPU change, the rollback that of the first revision.
		same := map[string][][]int{"dev": {{2, 4, 6, 8}}, "staging": {{1, 3}}}
		for _, group := range same[env] {
			for _, v := range group[1:] {
				if a, b := got[group[0]-1].Digest, got[v-1].Digest; a != b {
					t.Errorf("%s: Helm revision %d has digest %s, revision %d %s; their renders are the same", env, v, b, group[0], a)
				}
			}
		}
		if env == "dev" && got[2].Digest == got[1].Digest {
			t.Errorf("dev: the image typo's digest %s equals the revision before it", got[2].Digest)
		}
	}
}

// promotionWant is one expected promotion: the story's revision name, the
// phase it ended in and the Helm revision it made (0: none).
type promotionWant struct {
	rev   string
	phase ferry.Phase
	helm  int
}

// checkHistory compares `ferry history ENV -o json` of every environment
// with the story, promotion by promotion, and reads the gate figures that
// decided the notable ones.
func checkHistory(ctx context.Context, t *testing.T, w *harness.World, s *harness.Story) {
	const (
		ok       = ferry.PhaseSucceeded
		failed   = ferry.PhaseFailed
		rolled   = ferry.PhaseRolledBack
		rejected = ferry.PhaseRejected
	)
	want := map[string][]promotionWant{
		"dev": {
			{harness.RevInitial, ok, 1}, {revWebhook, ok, 0}, {harness.RevCPU, ok, 2},
			{harness.RevBadImage, failed, 3}, {harness.RevBadImageRevert, ok, 4},
			{harness.RevOverQuota, failed, 5}, {harness.RevOverQuotaRevert, ok, 6},
			{harness.RevQuotaFit, failed, 0}, {harness.RevQuotaFitRevert, ok, 0},
			{harness.RevBrokenValues, failed, 0}, {harness.RevBrokenRevert, ok, 0},
			{harness.RevChown, ok, 7}, {harness.RevChownRevert, ok, 8},
			{harness.RevStagingTypo, ok, 0}, {harness.RevStagingTypoRev, ok, 0},
			{harness.RevProdLimit, ok, 0},
		},
		"staging": {
			{harness.RevInitial, ok, 1}, {revWebhook, ok, 0}, {harness.RevCPU, ok, 0},
			{harness.RevBadImageRevert, ok, 0}, {harness.RevOverQuotaRevert, ok, 0},
			{harness.RevQuotaFitRevert, ok, 0}, {harness.RevBrokenRevert, ok, 0},
			{harness.RevChown, failed, 0}, {harness.RevChownRevert, ok, 0},
			{harness.RevStagingTypo, rolled, 2}, {harness.RevStagingTypoRev, ok, 0},
			{harness.RevProdLimit, ok, 0},
		},
		"prod": {
			{harness.RevInitial, ok, 1}, {revWebhook, ok, 0}, {harness.RevCPU, ok, 0},
			{harness.RevBadImageRevert, ok, 0}, {harness.RevOverQuotaRevert, ok, 0},
			{harness.RevQuotaFitRevert, ok, 0}, {harness.RevBrokenRevert, ok, 0},
			{harness.RevChownRevert, ok, 0}, {harness.RevStagingTypoRev, ok, 0},
			{harness.RevProdLimit, rejected, 0},
		},
	}
	byEnv := map[string]map[string]ferry.Promotion{}
	for _, env := range []string{"dev", "staging", "prod"} {
		proms, err := w.History(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		var got, wantRows []string
		byEnv[env] = map[string]ferry.Promotion{}
		// The CLI lists newest first; the table is oldest first.
		for _, p := range slices.Backward(proms) {
			got = append(got, fmt.Sprintf("%s %s helm=%d", revName(s, p.Revision.SHA), p.Phase, p.HelmRevision))
			name := revName(s, p.Revision.SHA)
			if _, dup := byEnv[env][name]; dup {
				t.Errorf("%s has two promotions of %s", env, name)
			}
			byEnv[env][name] = p
		}
		for _, p := range want[env] {
			wantRows = append(wantRows, fmt.Sprintf("%s %s helm=%d", p.rev, p.phase, p.helm))
		}
		if !slices.Equal(got, wantRows) {
			t.Errorf("ferry history %s:\n got %s\nwant %s", env, strings.Join(got, "\n     "), strings.Join(wantRows, "\n     "))
		}
	}

	// Gate figures of the promotions that decided something.
	figures := []struct {
		env, rev, gate, name, want string
	}{
		{"dev", harness.RevInitial, "health", "ready", "17/17"},
		{"dev", harness.RevInitial, "loadTest", "requests", "100"},
		{"dev", harness.RevQuotaFit, "quotaFit", "requests.cpu", "3.45 of 2"},
		{"staging", harness.RevInitial, "health", "ready", "42/42"},
		{"staging", harness.RevChown, "policy", "violations", "8"},
		{"staging", harness.RevStagingTypo, "health", "ready", "41/42"},
		{"prod", harness.RevInitial, ferry.GateApproval, "approvals", "1 of 1"},
		{"prod", harness.RevInitial, "health", "ready", "46/46"},
		{"prod", harness.RevProdLimit, ferry.GateApproval, "rejected by", harness.Bob},
	}
	for _, f := range figures {
		p, ok := byEnv[f.env][f.rev]
		if !ok {
			t.Errorf("%s has no promotion of %s", f.env, f.rev)
			continue
		}
		if got := figure(p, f.gate, f.name); got != f.want {
			t.Errorf("%s %s: gate %s figure %q = %q, want %q%s", f.env, f.rev, f.gate, f.name, got, f.want, harness.Gates(p))
		}
	}
	if p, ok := byEnv["prod"][harness.RevProdLimit]; ok {
		if g, _ := harness.Gate(p, ferry.GateApproval); g.Verdict != ferry.VerdictFailed {
			t.Errorf("prod's rejected promotion records its approval gate %s, want Failed: %s", g.Verdict, g.Reason)
		}
	}
	if p, ok := byEnv["dev"][harness.RevBrokenValues]; ok {
		if g, _ := harness.Gate(p, "render"); !strings.Contains(g.Reason, "values-dev.yaml:") {
			t.Errorf("dev's broken values render gate does not name the file and line: %s", g.Reason)
		}
	}
}

// checkLive reads live objects: dev runs the CPU change, staging the image
// it rolled back to, prod the CPU limit of the approved revision, not the
// rejected one.
func checkLive(ctx context.Context, t *testing.T, w *harness.World) {
	tests := []struct {
		env       string
		read      func(c containerFields) string
		want      string
		mentioned string
	}{
		{"dev", func(c containerFields) string { return c.cpuRequest }, "200m", "CPU request after the seed's upgrade"},
		{"staging", func(c containerFields) string { return c.image }, "codercom/code-server:4.96.4", "image after the rollback"},
		{"prod", func(c containerFields) string { return c.cpuLimit }, "4", "CPU limit (4000m; the rejected 6 never applied)"},
	}
	for _, tt := range tests {
		c, err := w.Container(ctx, tt.env, "code-server", "code-server")
		if err != nil {
			t.Fatal(err)
		}
		got := tt.read(containerFields{
			image: c.Image, cpuRequest: c.Resources.Requests.Cpu().String(), cpuLimit: c.Resources.Limits.Cpu().String(),
		})
		if got != tt.want {
			t.Errorf("%s code-server %s: %s, want %s", tt.env, tt.mentioned, got, tt.want)
		}
	}
}

type containerFields struct{ image, cpuRequest, cpuLimit string }

// checkChat checks the exact set of messages in the channel: one parent per
// pushed revision and nothing else, no duplicates, each parent's final
// status line per environment, and the thread details the story is about.
func checkChat(ctx context.Context, t *testing.T, w *harness.World, s *harness.Story) {
	all := slices.Collect(maps.Values(s.Revs))
	slices.Sort(all)
	err := eventually(ctx, 30*time.Second, func() error {
		parents := w.Parents()
		got := slices.Sorted(maps.Keys(parents))
		if !slices.Equal(got, all) {
			return fmt.Errorf("revision messages for %v, want one for each of %v", names(s, got), names(s, all))
		}
		for sha, ms := range parents {
			if len(ms) != 1 {
				return fmt.Errorf("%d messages for %s, want 1", len(ms), revName(s, sha))
			}
		}
		if n := len(w.Slack.Messages(w.Channel)); n != len(all) {
			return fmt.Errorf("the channel holds %d top-level messages, want %d (one per revision)", n, len(all))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	const yes, no = "✅", "· not yet"
	status := map[string][3]string{
		harness.RevInitial:         {yes, yes, yes},
		revWebhook:                 {yes, yes, yes},
		harness.RevCPU:             {yes, yes, yes},
		harness.RevBadImage:        {"❌", no, no},
		harness.RevBadImageRevert:  {yes, yes, yes},
		harness.RevOverQuota:       {"❌", no, no},
		harness.RevOverQuotaRevert: {yes, yes, yes},
		harness.RevQuotaFit:        {"❌", no, no},
		harness.RevQuotaFitRevert:  {yes, yes, yes},
		harness.RevBrokenValues:    {"❌", no, no},
		harness.RevBrokenRevert:    {yes, yes, yes},
		harness.RevChown:           {yes, "❌", no},
		harness.RevChownRevert:     {yes, yes, yes},
		harness.RevStagingTypo:     {yes, "↩️", no},
		harness.RevStagingTypoRev:  {yes, yes, yes},
		harness.RevProdLimit:       {yes, yes, "🚫"},
	}
	if len(status) != len(s.Revs) {
		t.Fatalf("the table covers %d revisions, the story pushed %d", len(status), len(s.Revs))
	}
	for name, want := range status {
		sha := s.Revs[name]
		err := eventually(ctx, 30*time.Second, func() error {
			m, err := w.Parent(sha)
			if err != nil {
				return err
			}
			for i, env := range []string{"dev", "staging", "prod"} {
				if !strings.Contains(m.Text, env+" "+want[i]) {
					return fmt.Errorf("the message of %s (%s) does not say %q: %s", name, sha[:7], env+" "+want[i], m.Text)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}

	threads := []struct {
		rev  string
		want []string
	}{
		{harness.RevCPU, []string{"requests.cpu 650m (was 550m, +100m)"}},
		{harness.RevBadImage, []string{"ImagePullBackOff (image codercom/code-server:4.96.4-missing)"}},
		{harness.RevOverQuota, []string{"exceeded quota"}},
		{harness.RevChown, []string{"*staging* policy failed: 8 violations", "CHOWN"}},
		{harness.RevStagingTypo, []string{"↩️"}},
	}
	for _, tt := range threads {
		thread, err := w.Thread(s.Revs[tt.rev])
		if err != nil {
			t.Error(err)
			continue
		}
		text := strings.Join(thread, "\n")
		for _, want := range tt.want {
			if !strings.Contains(text, want) {
				t.Errorf("the thread of %s lacks %q:\n%s", tt.rev, want, text)
			}
		}
	}
}

// revName is the story's name of sha, or its short form.
func revName(s *harness.Story, sha string) string {
	for name, rev := range s.Revs {
		if rev == sha {
			return name
		}
	}
	return (ferry.Revision{SHA: sha}).Short()
}

// checkNoSecrets searches every output of the run for every secret of it:
// ferry's log, what the story printed (webhook and click answers among it),
// the whole Slack transcript and click answers, the CLI's tables and JSON,
// and the metrics.
func checkNoSecrets(ctx context.Context, t *testing.T, w *harness.World, printed string) {
	log, err := os.ReadFile(w.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"ferry's log": string(log), "the story's output": printed}
	var transcript strings.Builder
	if err := w.PrintTranscript(&transcript); err != nil {
		t.Fatal(err)
	}
	outputs["the chat transcript"] = transcript.String()
	for i, c := range w.Slack.Transcript() {
		outputs[fmt.Sprintf("Slack call %d (%s)", i+1, c.Method)] = c.Text + " " + c.Outcome
	}
	for i, r := range w.Slack.Responses() {
		outputs[fmt.Sprintf("click answer %d", i+1)] = r.Text
	}
	for _, args := range [][]string{{"status"}, {"status", "-o", "json"}, {"history", "dev", "-o", "json"},
		{"history", "staging", "-o", "json"}, {"history", "prod", "-o", "json"}, {"history", "prod"}} {
		text, err := w.CLI(ctx, harness.Alice, args...)
		if err != nil {
			t.Fatal(err)
		}
		outputs["ferry "+strings.Join(args, " ")] = text
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.APIURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(metrics), "ferry_") {
		t.Fatalf("metrics: %v, %d bytes", err, len(metrics))
	}
	outputs["/metrics"] = string(metrics)

	secrets := w.SecretValues()
	if len(secrets) < 6 {
		t.Fatalf("the run has %d secrets, want at least 6", len(secrets))
	}
	for what, secret := range secrets {
		if len(secret) < 16 {
			t.Fatalf("%s is %d characters: too short to search for", what, len(secret))
		}
		for where, text := range outputs {
			if strings.Contains(text, secret) {
				t.Errorf("%s appears in %s", what, where)
			}
		}
	}
}
