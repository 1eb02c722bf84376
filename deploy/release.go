package deploy

import (
	"fmt"
	"slices"
	"strings"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/release"
)

// Labels ferry puts on every Helm revision it makes. Helm keeps them on the
// release's storage Secret, where a value holds at most 63 characters.
const (
	// LabelRevision is the Git commit the revision was rendered from.
	LabelRevision = "ferry.dev/revision"
	// LabelDigest is the render digest, shortened (see ShortDigest).
	LabelDigest = "ferry.dev/digest"
	// LabelGood marks a revision that passed its verification gates: the one
	// Rollback returns to. Only MarkGood sets it.
	LabelGood = "ferry.dev/good"
)

// maxLabelValue is the longest label value Kubernetes accepts.
const maxLabelValue = 63

// ShortDigest turns a render digest ("sha256:" and 64 hex digits) into a
// label value: the algorithm, a dot and as many digits as fit in 63
// characters (56 for sha256, 224 bits).
func ShortDigest(digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok {
		algo, hex = "", digest
	}
	s := hex
	if algo != "" {
		s = algo + "." + hex
	}
	if len(s) > maxLabelValue {
		s = s[:maxLabelValue]
	}
	return s
}

// revisionLabels are the labels of a new Helm revision of rev. An inherited
// good mark is removed ("null" deletes a label in a Helm upgrade).
func revisionLabels(rev ferry.Revision, digest string) map[string]string {
	sha := rev.SHA
	if len(sha) > maxLabelValue {
		sha = sha[:maxLabelValue]
	}
	return map[string]string{LabelRevision: sha, LabelDigest: ShortDigest(digest), LabelGood: "null"}
}

// maxDescription keeps a revision's description to one readable line in
// `helm history`.
const maxDescription = 200

// description is what `helm history` shows for a revision ferry made: the
// full SHA and the commit subject.
func description(action string, rev ferry.Revision) string {
	d := fmt.Sprintf("ferry %s %s: %s", action, rev.SHA, firstLine(rev.Subject))
	if len(d) > maxDescription {
		// Cut on a rune boundary: a subject may be any UTF-8.
		d = strings.ToValidUTF8(d[:maxDescription-len("...")], "") + "..."
	}
	return d
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// stateKind is what ferry sees when it looks at a release before acting.
type stateKind int

const (
	// stateAbsent: no revision, or only an uninstalled one kept in history.
	stateAbsent stateKind = iota
	// stateInSync: the latest revision is deployed with the render's digest.
	stateInSync
	// stateOutOfSync: a revision is deployed, with another digest, or the
	// latest upgrade failed over a deployed one.
	stateOutOfSync
	// statePending: the latest revision is pending-install, -upgrade or
	// -rollback and nobody is working on it (the process died).
	statePending
	// stateFailedFirst: no revision ever deployed and the latest failed
	// ("has no deployed releases").
	stateFailedFirst
)

func (k stateKind) String() string {
	return [...]string{"absent", "in sync", "out of sync", "pending", "failed first install"}[k]
}

// releaseState is the observed release: what it is, its latest revision and
// the revision Helm considers deployed (nil when none).
type releaseState struct {
	kind     stateKind
	last     *release.Release
	deployed *release.Release
}

// observe classifies a release history for a render whose digest is given.
// It only looks: deciding and acting come after.
func observe(history []*release.Release, digest string) releaseState {
	if len(history) == 0 {
		return releaseState{kind: stateAbsent}
	}
	h := slices.Clone(history)
	slices.SortFunc(h, func(a, b *release.Release) int { return a.Version - b.Version })
	s := releaseState{last: h[len(h)-1]}
	for _, r := range slices.Backward(h) {
		if r.Info != nil && r.Info.Status == release.StatusDeployed {
			s.deployed = r
			break
		}
	}
	switch st := status(s.last); {
	case st.IsPending():
		s.kind = statePending
	case st == release.StatusUninstalled:
		s.kind = stateAbsent
	case s.deployed == nil:
		s.kind = stateFailedFirst
	case s.last == s.deployed && s.last.Labels[LabelDigest] == ShortDigest(digest):
		s.kind = stateInSync
	default:
		s.kind = stateOutOfSync
	}
	return s
}

func status(r *release.Release) release.Status {
	if r == nil || r.Info == nil {
		return release.StatusUnknown
	}
	return r.Info.Status
}

// step is one thing Apply does to a release.
type step int

const (
	stepNone step = iota
	stepInstall
	stepUpgrade
	// stepRecoverPending marks the dead operation's revision failed and rolls
	// back to the deployed revision.
	stepRecoverPending
	// stepUninstall removes a release that never deployed, so that a clean
	// install can follow.
	stepUninstall
)

func (s step) String() string {
	return [...]string{"none", "install", "upgrade", "recover pending", "uninstall"}[s]
}

// decide maps an observed state to the next step. Apply repeats
// observe-decide-act until the step is an install, an upgrade or nothing.
func decide(s releaseState) step {
	switch s.kind {
	case stateInSync:
		return stepNone
	case stateAbsent:
		return stepInstall
	case statePending:
		if s.deployed == nil {
			return stepUninstall
		}
		return stepRecoverPending
	case stateFailedFirst:
		return stepUninstall
	default:
		return stepUpgrade
	}
}
