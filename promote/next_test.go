package promote

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// The scenarios in testdata/next/*.yaml drive Rules.Next step by step; each
// step states the actions wanted, in order, and the state after it.

type scenario struct {
	Name  string       `json:"name"`
	Rules scenarioRule `json:"rules"`
	State stateSpec    `json:"state"`
	Steps []step       `json:"steps"`
}

type scenarioRule struct {
	OnFailure string           `json:"onFailure"`
	Approval  *config.Approval `json:"approval"`
	Windows   []struct {
		Schedule string `json:"schedule"`
		Duration string `json:"duration"`
	} `json:"windows"`
	HistoryLimit int `json:"historyLimit"`
}

type promotionSpec struct {
	Rev       string      `json:"rev"`
	Digest    string      `json:"digest"`
	Phase     ferry.Phase `json:"phase"`
	Admitted  bool        `json:"admitted"`
	Approvals []string    `json:"approvals"`
}

type stateSpec struct {
	Current       string          `json:"current"`
	Digest        string          `json:"digest"`
	Held          bool            `json:"held"`
	LastSucceeded string          `json:"lastSucceeded"`
	Active        *promotionSpec  `json:"active"`
	Queue         []promotionSpec `json:"queue"`
}

type eventSpec struct {
	Kind         EventKind          `json:"kind"`
	Rev          string             `json:"rev"`
	Digest       string             `json:"digest"`
	Actor        string             `json:"actor"`
	Rejected     bool               `json:"rejected"`
	Reason       string             `json:"reason"`
	Gates        []ferry.GateResult `json:"gates"`
	HelmRevision int                `json:"helmRevision"`
	Err          string             `json:"err"`
}

type step struct {
	At           *time.Time `json:"at"`
	Event        eventSpec  `json:"event"`
	Actions      []string   `json:"actions"`
	State        string     `json:"state"`
	ActiveReason string     `json:"activeReason"`
	LastReason   string     `json:"lastReason"`
}

var scenarioStart = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

func (s stateSpec) build(pipeline, env string, at time.Time) State {
	st := State{Pipeline: pipeline, Environment: env, Current: ferry.Revision{SHA: s.Current}, CurrentDigest: s.Digest, Held: s.Held}
	if s.LastSucceeded != "" {
		st.LastSucceeded, st.LastSucceededAt = ferry.Revision{SHA: s.LastSucceeded}, at.Add(-time.Hour)
	}
	mk := func(p promotionSpec) ferry.Promotion {
		st.Seq++
		pr := ferry.Promotion{ID: fmt.Sprintf("%s-%s-%d", pipeline, env, st.Seq), Pipeline: pipeline, Environment: env,
			Revision: ferry.Revision{SHA: p.Rev}, Digest: p.Digest, Phase: p.Phase, Actor: actorFerry, Created: at.Add(-time.Minute)}
		if p.Admitted {
			pr.Admitted = pr.Created
		}
		for _, a := range p.Approvals {
			pr.Approvals = append(pr.Approvals, ferry.Approval{Actor: a, Revision: p.Rev, Pipeline: pipeline, Environment: env})
		}
		return pr
	}
	if s.Active != nil {
		a := mk(*s.Active)
		st.Active = &a
	}
	for _, q := range s.Queue {
		st.Queue = append(st.Queue, mk(q))
	}
	return st
}

func (e eventSpec) build(at time.Time) Event {
	ev := Event{Kind: e.Kind, Time: at, Revision: ferry.Revision{SHA: e.Rev}, Digest: e.Digest, Actor: e.Actor, Gates: e.Gates, HelmRevision: e.HelmRevision}
	if e.Err != "" {
		ev.Err = errors.New(e.Err)
	}
	if e.Kind == EventApproval {
		ev.Revision = ferry.Revision{}
		ev.Approval = ferry.Approval{Actor: e.Actor, Revision: e.Rev, Pipeline: "web", Environment: "prod", Time: at, Via: "api", Rejected: e.Rejected, Reason: e.Reason}
	}
	return ev
}

// describeState is the state in one line: what the scenarios assert.
func describeState(s State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "current=%s/%s", s.Current.SHA, s.CurrentDigest)
	if s.Held {
		b.WriteString(" held")
	}
	fmt.Fprintf(&b, " last=%s", s.LastSucceeded.SHA)
	if s.Active != nil {
		fmt.Fprintf(&b, " active=%s:%s", s.Active.Revision.SHA, s.Active.Phase)
	}
	if len(s.Queue) > 0 {
		var q []string
		for _, p := range s.Queue {
			q = append(q, p.Revision.SHA)
		}
		fmt.Fprintf(&b, " queue=[%s]", strings.Join(q, " "))
	}
	if len(s.History) > 0 {
		var h []string
		for _, p := range s.History {
			h = append(h, p.Revision.SHA+":"+string(p.Phase))
		}
		fmt.Fprintf(&b, " history=[%s]", strings.Join(h, " "))
	}
	return b.String()
}

// describeAction is one action in one line.
func describeAction(a Action) string {
	switch a.Kind {
	case ActionRollback:
		return fmt.Sprintf("Rollback %s to %s", a.Promotion.Revision.SHA, a.RollbackTo.SHA)
	case ActionWake:
		return "Wake " + a.At.UTC().Format(time.RFC3339)
	case ActionNotify:
		ev := a.Event
		switch ev.Kind {
		case ferry.EventApproval:
			return fmt.Sprintf("Notify %s %s by %s", decision(*ev.Approval), ev.Approval.Revision, ev.Approval.Actor)
		case ferry.EventError:
			return "Notify error: " + ev.Message
		}
		return fmt.Sprintf("Notify %s %s: %s", ev.Promotion.Revision.SHA, ev.Promotion.Phase, ev.Promotion.Reason)
	}
	return fmt.Sprintf("%s %s", a.Kind, a.Promotion.Revision.SHA)
}

func TestNext(t *testing.T) {
	for _, file := range []string{"queue.yaml", "approval.yaml", "failure.yaml", "restart.yaml", "window.yaml", "digest.yaml"} {
		var scenarios []scenario
		loadYAML(t, "next/"+file, &scenarios)
		for _, sc := range scenarios {
			t.Run(strings.TrimSuffix(file, ".yaml")+"/"+sc.Name, func(t *testing.T) {
				rules := Rules{OnFailure: sc.Rules.OnFailure, Approval: sc.Rules.Approval, HistoryLimit: sc.Rules.HistoryLimit}
				for _, w := range sc.Rules.Windows {
					d, err := time.ParseDuration(w.Duration)
					if err != nil {
						t.Fatal(err)
					}
					pw, err := ParseWindow(w.Schedule, d)
					if err != nil {
						t.Fatal(err)
					}
					rules.Windows = append(rules.Windows, pw)
				}
				s := sc.State.build("web", "prod", scenarioStart)
				for i, st := range sc.Steps {
					at := scenarioStart.Add(time.Duration(i) * time.Minute)
					if st.At != nil {
						at = *st.At
					}
					before := describeState(s)
					next, actions := rules.Next(s, st.Event.build(at))
					if describeState(s) != before {
						t.Fatalf("step %d changed its input state", i+1)
					}
					var got []string
					for _, a := range actions {
						got = append(got, describeAction(a))
					}
					if !slices.Equal(got, st.Actions) {
						t.Errorf("step %d (%s %s): actions\n got %q\nwant %q", i+1, st.Event.Kind, st.Event.Rev, got, st.Actions)
					}
					if d := describeState(next); d != st.State {
						t.Errorf("step %d (%s %s): state\n got %s\nwant %s", i+1, st.Event.Kind, st.Event.Rev, d, st.State)
					}
					if st.ActiveReason != "" && (next.Active == nil || next.Active.Reason != st.ActiveReason) {
						t.Errorf("step %d: active reason = %+v, want %q", i+1, next.Active, st.ActiveReason)
					}
					if st.LastReason != "" {
						if len(next.History) == 0 {
							t.Errorf("step %d: no history, want last reason %q", i+1, st.LastReason)
						} else if r := next.History[len(next.History)-1].Reason; r != st.LastReason {
							t.Errorf("step %d: last reason\n got %q\nwant %q", i+1, r, st.LastReason)
						}
					}
					if t.Failed() {
						t.FailNow()
					}
					s = next
				}
			})
		}
	}
}
