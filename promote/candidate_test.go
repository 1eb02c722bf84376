package promote

import (
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
)

func TestCandidate(t *testing.T) {
	var cases []struct {
		Name    string `json:"name"`
		Current string `json:"current"`
		Active  string `json:"active"`
		// ActiveBy and ActiveCreated say who started the active promotion
		// and when (empty: ferry, at minute 0).
		ActiveBy      string   `json:"activeBy"`
		ActiveCreated int      `json:"activeCreated"`
		Queue         []string `json:"queue"`
		// QueueBy started the queued promotions (empty: ferry).
		QueueBy string `json:"queueBy"`
		History []struct {
			Rev     string      `json:"rev"`
			Phase   ferry.Phase `json:"phase"`
			Created int         `json:"created"`
			Actor   string      `json:"actor"`
		} `json:"history"`
		Offer struct {
			Rev   string `json:"rev"`
			Since int    `json:"since"`
		} `json:"offer"`
		Want string `json:"want"`
	}
	loadYAML(t, "candidates.yaml", &cases)
	minute := func(m int) time.Time { return scenarioStart.Add(time.Duration(m) * time.Minute) }
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			s := State{Environment: "prod", Current: ferry.Revision{SHA: tc.Current}}
			if tc.Active != "" {
				s.Active = &ferry.Promotion{Revision: ferry.Revision{SHA: tc.Active}, Phase: ferry.PhaseVerifying, Actor: tc.ActiveBy, Created: minute(tc.ActiveCreated)}
			}
			for _, q := range tc.Queue {
				s.Queue = append(s.Queue, ferry.Promotion{Revision: ferry.Revision{SHA: q}, Phase: ferry.PhaseWaiting, Actor: tc.QueueBy, Created: minute(12)})
			}
			for _, h := range tc.History {
				s.History = append(s.History, ferry.Promotion{Revision: ferry.Revision{SHA: h.Rev}, Phase: h.Phase, Created: minute(h.Created), Actor: h.Actor})
			}
			got, ok := Candidate(s, Offer{Revision: ferry.Revision{SHA: tc.Offer.Rev}, Since: minute(tc.Offer.Since)})
			if got.SHA != tc.Want || ok != (tc.Want != "") {
				t.Fatalf("Candidate = %q, %v; want %q", got.SHA, ok, tc.Want)
			}
		})
	}
}

func TestOfferFrom(t *testing.T) {
	var cases []struct {
		Name  string    `json:"name"`
		State stateSpec `json:"state"`
		Want  string    `json:"want"`
	}
	loadYAML(t, "offers.yaml", &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			from := tc.State.build("web", "staging", scenarioStart)
			o, ok := OfferFrom(from)
			if o.Revision.SHA != tc.Want || ok != (tc.Want != "") {
				t.Fatalf("OfferFrom = %q, %v; want %q", o.Revision.SHA, ok, tc.Want)
			}
			if ok && !o.Since.Equal(from.LastSucceededAt) {
				t.Fatalf("OfferFrom since = %s, want %s", o.Since, from.LastSucceededAt)
			}
		})
	}
}
