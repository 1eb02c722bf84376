package promote

import (
	"time"

	"github.com/ferry-gitops/ferry"
)

// Offer is a revision offered to an environment: the branch head for the
// first environment, or what most recently succeeded in its `from`. Since is
// when the offer was made (the head was seen, or the success ended), so a
// revision refused here before can come back when it is offered anew.
type Offer struct {
	Revision ferry.Revision
	Since    time.Time
}

// OfferFrom is what the environment `from` offers the next one: the revision
// that most recently succeeded there (not the newest commit, so a revert
// travels too). ok is false before anything succeeded there.
func OfferFrom(from State) (o Offer, ok bool) {
	if from.LastSucceeded.SHA == "" {
		return Offer{}, false
	}
	return Offer{Revision: from.LastSucceeded, Since: from.LastSucceededAt}, true
}

// Candidate says whether o should become a promotion in the environment of s:
// it must differ from what runs there, not be in progress there already, and
// not have failed, rolled back or been rejected there since it was offered
// (a revision that failed here stays here; it is not retried in a loop).
// Nor may a person have chosen the environment's revision by hand since o
// was offered (`ferry promote`, a rollforward or a pin): that choice stands,
// in progress or succeeded, until upstream offers a newer revision.
func Candidate(s State, o Offer) (ferry.Revision, bool) {
	sha := o.Revision.SHA
	if sha == "" || sha == s.Current.SHA {
		return ferry.Revision{}, false
	}
	if s.Active != nil && s.Active.Revision.SHA == sha {
		return ferry.Revision{}, false
	}
	for _, q := range s.Queue {
		if q.Revision.SHA == sha {
			return ferry.Revision{}, false
		}
	}
	if chosenByHand(s, o.Since) {
		return ferry.Revision{}, false
	}
	for _, h := range s.History {
		if h.Revision.SHA != sha || h.Created.Before(o.Since) {
			continue
		}
		switch h.Phase {
		case ferry.PhaseFailed, ferry.PhaseRolledBack, ferry.PhaseRejected:
			return ferry.Revision{}, false
		}
	}
	return o.Revision, true
}

// chosenByHand reports whether a promotion started by a person since `since`
// is in progress, queued or succeeded in the environment of s.
func chosenByHand(s State, since time.Time) bool {
	byHand := func(p ferry.Promotion) bool {
		return p.Actor != "" && p.Actor != actorFerry && !p.Created.Before(since)
	}
	if s.Active != nil && byHand(*s.Active) {
		return true
	}
	for _, q := range s.Queue {
		if byHand(q) {
			return true
		}
	}
	for _, h := range s.History {
		if h.Phase == ferry.PhaseSucceeded && byHand(h) {
			return true
		}
	}
	return false
}
