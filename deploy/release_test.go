package deploy

import (
	"slices"
	"strings"
	"testing"

	ferry "github.com/ferry-gitops/ferry"
	"helm.sh/helm/v3/pkg/release"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// rev builds a stored revision: version, status and labels "k=v,k=v".
func rev(version int, st release.Status, labels string) *release.Release {
	l := map[string]string{}
	for kv := range strings.SplitSeq(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			l[k] = v
		}
	}
	return &release.Release{Version: version, Info: &release.Info{Status: st}, Labels: l}
}

var inSyncLabel = LabelDigest + "=" + ShortDigest(testDigest)

func TestObserveAndDecide(t *testing.T) {
	tests := []struct {
		name     string
		history  []*release.Release
		kind     stateKind
		deployed int
		step     step
	}{
		{"no release installs", nil, stateAbsent, 0, stepInstall},
		{"deployed with the render's digest does nothing",
			[]*release.Release{rev(1, release.StatusSuperseded, ""), rev(2, release.StatusDeployed, inSyncLabel)}, stateInSync, 2, stepNone},
		{"deployed with another digest upgrades",
			[]*release.Release{rev(1, release.StatusDeployed, LabelDigest+"=sha256.00")}, stateOutOfSync, 1, stepUpgrade},
		{"failed upgrade over a deployed revision upgrades again, even with the same digest",
			[]*release.Release{rev(1, release.StatusDeployed, ""), rev(2, release.StatusFailed, inSyncLabel)}, stateOutOfSync, 1, stepUpgrade},
		{"pending-upgrade left by a dead process is recovered",
			[]*release.Release{rev(2, release.StatusPendingUpgrade, inSyncLabel), rev(1, release.StatusDeployed, "")}, statePending, 1, stepRecoverPending},
		{"pending-rollback is recovered",
			[]*release.Release{rev(1, release.StatusSuperseded, ""), rev(2, release.StatusDeployed, ""), rev(3, release.StatusPendingRollback, "")}, statePending, 2, stepRecoverPending},
		{"pending-install is uninstalled",
			[]*release.Release{rev(1, release.StatusPendingInstall, inSyncLabel)}, statePending, 0, stepUninstall},
		{"failed first install is uninstalled (has no deployed releases)",
			[]*release.Release{rev(1, release.StatusFailed, inSyncLabel)}, stateFailedFirst, 0, stepUninstall},
		{"interrupted uninstall is uninstalled",
			[]*release.Release{rev(1, release.StatusUninstalling, "")}, stateFailedFirst, 0, stepUninstall},
		{"uninstalled release kept in history installs",
			[]*release.Release{rev(1, release.StatusUninstalled, inSyncLabel)}, stateAbsent, 0, stepInstall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := observe(tt.history, testDigest)
			if s.kind != tt.kind {
				t.Errorf("state = %s, want %s", s.kind, tt.kind)
			}
			got := 0
			if s.deployed != nil {
				got = s.deployed.Version
			}
			if got != tt.deployed {
				t.Errorf("deployed revision = %d, want %d", got, tt.deployed)
			}
			if st := decide(s); st != tt.step {
				t.Errorf("step = %s, want %s", st, tt.step)
			}
		})
	}
}

func TestPruneVictimsKeepLastGoodAndDeployed(t *testing.T) {
	tests := []struct {
		name    string
		history []*release.Release
		max     int
		want    []int
	}{
		{"within the limit nothing goes",
			[]*release.Release{rev(1, release.StatusSuperseded, ""), rev(2, release.StatusDeployed, "")}, 3, nil},
		{"oldest go first",
			[]*release.Release{rev(1, release.StatusSuperseded, ""), rev(2, release.StatusSuperseded, ""), rev(3, release.StatusSuperseded, ""), rev(4, release.StatusDeployed, "")}, 2, []int{1, 2}},
		{"an old good revision stays beyond the limit",
			[]*release.Release{rev(1, release.StatusSuperseded, LabelGood+"=true"), rev(2, release.StatusSuperseded, ""), rev(3, release.StatusSuperseded, ""), rev(4, release.StatusSuperseded, ""), rev(5, release.StatusDeployed, "")}, 2, []int{2, 3}},
		{"only the last good is kept, older good ones go",
			[]*release.Release{rev(1, release.StatusSuperseded, LabelGood+"=true"), rev(2, release.StatusSuperseded, LabelGood+"=true"), rev(3, release.StatusSuperseded, ""), rev(4, release.StatusDeployed, "")}, 1, []int{1, 3}},
		{"the deployed revision stays behind failed ones",
			[]*release.Release{rev(1, release.StatusDeployed, ""), rev(2, release.StatusFailed, ""), rev(3, release.StatusFailed, ""), rev(4, release.StatusFailed, "")}, 2, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pruneVictims(tt.history, tt.max); !slices.Equal(got, tt.want) {
				t.Errorf("victims = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRevisionLabelsFitKubernetes(t *testing.T) {
	tests := []struct {
		name   string
		sha    string
		digest string
		want   map[string]string
	}{
		{"SHA-1 commit and sha256 digest", "3f786850e387550fdab836ed7e6dc881de23001b", testDigest, map[string]string{
			LabelRevision: "3f786850e387550fdab836ed7e6dc881de23001b",
			LabelDigest:   "sha256.0123456789abcdef0123456789abcdef0123456789abcdef01234567",
			LabelGood:     "null",
		}},
		{"SHA-256 commit is cut to 63 characters", strings.Repeat("ab", 32), testDigest, map[string]string{
			LabelRevision: strings.Repeat("ab", 31) + "a",
			LabelDigest:   "sha256.0123456789abcdef0123456789abcdef0123456789abcdef01234567",
			LabelGood:     "null",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := revisionLabels(ferry.Revision{SHA: tt.sha}, tt.digest)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
				if len(got[k]) > 63 {
					t.Errorf("%s has %d characters", k, len(got[k]))
				}
			}
		})
	}
}

func TestDescription(t *testing.T) {
	tests := []struct {
		name, action, subject, want string
	}{
		{"subject's first line", "upgrade", "Raise the web tier to 3 replicas\n\nBecause traffic.", "ferry upgrade 3f786850e387550fdab836ed7e6dc881de23001b: Raise the web tier to 3 replicas"},
		{"long subject is cut to 200 characters", "install", strings.Repeat("x", 300), "ferry install 3f786850e387550fdab836ed7e6dc881de23001b: " + strings.Repeat("x", 200-56-3) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := description(tt.action, ferry.Revision{SHA: "3f786850e387550fdab836ed7e6dc881de23001b", Subject: tt.subject})
			if got != tt.want {
				t.Errorf("description =\n%q, want\n%q", got, tt.want)
			}
		})
	}
}
