package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/slack-go/slack"
)

func TestCutLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"text within the limit is kept", "a\nb", 3, "a\nb"},
		{"whole lines are kept and the rest counted", "aaaa\nbbbb\ncccc\ndddd\neeee", 20, "aaaa\n… 4 more lines"},
		{"an over-long first line is cut and counted", strings.Repeat("x", 40) + "\ny", 30, strings.Repeat("x", 14) + "…\n… 1 more lines"},
		{"a cut never splits an entity", strings.Repeat("x", 11) + "&amp;" + strings.Repeat("y", 30) + "\nz", 30, strings.Repeat("x", 11) + "…\n… 1 more lines"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cutLines(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("cutLines = %q, want %q", got, tc.want)
			}
			if n := len([]rune(got)); n > tc.max {
				t.Errorf("result has %d characters, limit %d", n, tc.max)
			}
		})
	}
}

func TestCapBlocksKeepsFifty(t *testing.T) {
	var blocks []slack.Block
	for range 70 {
		blocks = append(blocks, section("line"))
	}
	got := capBlocks(blocks)
	if len(got) != 50 {
		t.Fatalf("%d blocks, want 50", len(got))
	}
	last, ok := got[49].(*slack.ContextBlock)
	if !ok {
		t.Fatalf("last block is %T, want a context note", got[49])
	}
	if text := last.ContextElements.Elements[0].(*slack.TextBlockObject).Text; text != "… 21 more blocks" {
		t.Errorf("note = %q, want %q", text, "… 21 more blocks")
	}
}

func TestFormatQuantity(t *testing.T) {
	tests := []struct {
		key  string
		v    int64
		want string
	}{
		{"requests.cpu", 750, "750m"},
		{"limits.cpu", 2000, "2"},
		{"requests.cpu", -250, "-250m"},
		{"requests.memory", 536870912, "512Mi"},
		{"limits.memory", 1610612736, "1.5Gi"},
		{"requests.storage", 10737418240, "10Gi"},
		{"requests.memory", 1000, "1000"},
		{"pods", 12, "12"},
	}
	for _, tc := range tests {
		if got := formatQuantity(tc.key, tc.v); got != tc.want {
			t.Errorf("formatQuantity(%s, %d) = %q, want %q", tc.key, tc.v, got, tc.want)
		}
	}
}

func TestSummaryLines(t *testing.T) {
	tests := []struct {
		name string
		cur  *ferry.ResourceSummary
		prev *ferry.ResourceSummary
		want []string
	}{
		{
			name: "first install lists amounts and quota for this release alone",
			cur: &ferry.ResourceSummary{Requested: ferry.ResourceList{"requests.cpu": 500, "requests.storage": 10737418240},
				Quota: ferry.ResourceList{"requests.cpu": 1000}, QuotaSource: "rendered"},
			want: []string{"requests.cpu 500m", "requests.storage 10Gi", "quota requests.cpu: 500m of 1 for this release (50%)", "quota source: rendered"},
		},
		{
			name: "a release that no longer fits says so",
			cur: &ferry.ResourceSummary{Requested: ferry.ResourceList{"requests.cpu": 3000},
				Quota: ferry.ResourceList{"requests.cpu": 4000}, Used: ferry.ResourceList{"requests.cpu": 3500}},
			prev: &ferry.ResourceSummary{Requested: ferry.ResourceList{"requests.cpu": 1000}},
			want: []string{"requests.cpu 3 (was 1, +2)", "quota requests.cpu: 5500m of 4 after this release (138%) ⚠️ over quota"},
		},
		{
			name: "a removed resource shows its drop",
			cur:  &ferry.ResourceSummary{Requested: ferry.ResourceList{"requests.cpu": 500}},
			prev: &ferry.ResourceSummary{Requested: ferry.ResourceList{"requests.cpu": 500, "limits.memory": 268435456}},
			want: []string{"requests.cpu 500m (unchanged)", "limits.memory 0 (was 256Mi, -256Mi)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := summaryLines(tc.cur, tc.prev); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	start := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		p    ferry.Promotion
		want string
	}{
		{ferry.Promotion{Phase: ferry.PhaseSucceeded, Created: start, Ended: start.Add(42 * time.Second)}, "✅ 42s"},
		{ferry.Promotion{Phase: ferry.PhaseSucceeded, Created: start, Updated: start.Add(3*time.Minute + 12*time.Second)}, "✅ 3m12s"},
		{ferry.Promotion{Phase: ferry.PhaseSucceeded, Created: start, Ended: start.Add(64 * time.Minute)}, "✅ 1h04m"},
		{ferry.Promotion{Phase: ferry.PhaseVerifying, Reason: "load test 18/30s"}, "⏳ load test 18/30s"},
		{ferry.Promotion{Phase: ferry.PhaseWaiting, Reason: "window opens Tue 09:00 Europe/Berlin"}, "⏸ window opens Tue 09:00 Europe/Berlin"},
		{ferry.Promotion{Phase: ferry.PhaseApplying}, "⏳ applying"},
		{ferry.Promotion{Phase: ferry.PhaseRollingBack}, "↩️ rolling back"},
		{ferry.Promotion{Phase: ferry.PhaseFailed, Reason: "p95 412ms > 300ms"}, "❌ p95 412ms > 300ms"},
		{ferry.Promotion{Phase: ferry.PhaseRejected, Reason: "rejected by @bob"}, "🚫 rejected by @bob"},
	}
	for _, tc := range tests {
		if got := statusText(&tc.p); got != tc.want {
			t.Errorf("statusText(%s) = %q, want %q", tc.p.Phase, got, tc.want)
		}
	}
}

// The notification text is what a phone shows: a long failure reason in dev
// must not push staging and prod out of it, and the files beyond what the
// revision listed are counted with the rest.
func TestParentNotificationKeepsEveryEnvironment(t *testing.T) {
	reason := "❌ verification failed: health: not healthy within 20s: 16/17 ready: Deployment/vibecode-dev/vibecode-dev-code-server Unhealthy " + strings.Repeat("x", 300)
	st := applyEvent(MessageState{Key: MessageKey{Pipeline: "web", Revision: "de9aa4612345"}},
		ferry.Event{Environment: "dev", Revision: ferry.Revision{SHA: "de9aa4612345", ChangedFiles: []string{"a", "b", "c", "d", "e", "f", "g"}, ChangedFilesMore: 93}},
		[]string{"dev", "staging", "prod"}, time.UTC)
	st.Envs[0].Status = reason
	blocks, text := parentMessage(st)
	want := "web · de9aa46 · dev ❌ verification failed: health: not healthy within 20s: 16/1… · staging · not yet · prod · not yet"
	if text != want {
		t.Errorf("notification text\n got %q\nwant %q", text, want)
	}
	if st.ChangedMore != 95 {
		t.Errorf("ChangedMore = %d, want 95 (2 unlisted by chat + 93 unlisted by the revision)", st.ChangedMore)
	}
	var all strings.Builder
	for _, b := range blocks {
		j, _ := json.Marshal(b)
		all.Write(j)
	}
	if !strings.Contains(all.String(), strings.Repeat("x", 300)) {
		t.Error("the message's blocks lost the whole status")
	}
}
