package promote

import (
	"fmt"
	"time"

	"github.com/ferry-gitops/ferry/config"
)

// Default settings for Rules fields left zero.
const (
	defaultHistoryLimit = 20
	defaultRetryAfter   = 30 * time.Second
)

// Rules are one environment's promotion settings, read from its config. The
// zero value promotes without approval or windows and holds on failure.
type Rules struct {
	// Approval, when set, makes promotions wait for approvals.
	Approval *config.Approval
	// Windows, when set, are the only times a promotion may be applied.
	Windows []Window
	// OnFailure is config.OnFailureRollback or config.OnFailureHold.
	OnFailure string
	// HistoryLimit caps State.History.
	HistoryLimit int
	// RetryAfter is how long to wait before running admission gates again
	// after one could not decide (Error or Pending).
	RetryAfter time.Duration
}

// NewRules reads an environment's promotion settings. An environment
// without onFailure rolls back, unless it is the first (no from), which holds,
// as config's defaults say.
func NewRules(env config.Environment, historyLimit int, retryAfter time.Duration) (Rules, error) {
	r := Rules{Approval: env.Approval, OnFailure: env.OnFailure, HistoryLimit: historyLimit, RetryAfter: retryAfter}
	if r.OnFailure == "" {
		r.OnFailure = config.OnFailureRollback
		if env.From == "" {
			r.OnFailure = config.OnFailureHold
		}
	}
	if r.OnFailure != config.OnFailureRollback && r.OnFailure != config.OnFailureHold {
		return Rules{}, fmt.Errorf("environment %s: onFailure %q is neither %q nor %q", env.Name, r.OnFailure, config.OnFailureRollback, config.OnFailureHold)
	}
	for i, w := range env.Windows {
		pw, err := ParseWindow(w.Schedule, w.Duration)
		if err != nil {
			return Rules{}, fmt.Errorf("environment %s: windows[%d]: %w", env.Name, i, err)
		}
		r.Windows = append(r.Windows, pw)
	}
	return r, nil
}

func (r Rules) historyLimit() int {
	if r.HistoryLimit > 0 {
		return r.HistoryLimit
	}
	return defaultHistoryLimit
}

func (r Rules) retryAfter() time.Duration {
	if r.RetryAfter > 0 {
		return r.RetryAfter
	}
	return defaultRetryAfter
}
