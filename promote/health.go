package promote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// HealthChecker reports the health of every object of a rendered release as
// it stands in the cluster right now. deploy satisfies it (kstatus); the
// reconciler passes it in.
type HealthChecker interface {
	Health(ctx context.Context, r ferry.Rendered) (ferry.HealthVerdict, error)
}

// HealthGate asks hc every interval until the release is Healthy or
// cfg.Timeout has passed. It fails with the last verdict when time runs
// out, and is an Error when no verdict could be had at all or ctx ended.
func HealthGate(ctx context.Context, hc HealthChecker, r ferry.Rendered, cfg config.HealthGate, interval time.Duration) ferry.GateResult {
	g := ferry.GateResult{Gate: "health", Started: time.Now()}
	deadline, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var (
		last    *ferry.HealthVerdict
		lastErr error
		checks  int
	)
	for {
		v, err := hc.Health(deadline, r)
		checks++
		if err != nil {
			lastErr = err
		} else {
			last, lastErr = &v, nil
			if v.Status == ferry.HealthHealthy {
				g.Verdict, g.Reason = ferry.VerdictPassed, fmt.Sprintf("%d/%d objects healthy", v.Ready, v.Total)
				return finishHealth(g, last, checks)
			}
		}
		select {
		case <-deadline.Done():
		case <-tick.C:
			continue
		}
		break
	}
	switch {
	case ctx.Err() != nil:
		g.Verdict, g.Reason = ferry.VerdictError, "health check stopped: "+ctx.Err().Error()
	case last == nil:
		g.Verdict, g.Reason = ferry.VerdictError, fmt.Sprintf("no health verdict within %s: %v", cfg.Timeout, lastErr)
	default:
		g.Verdict = ferry.VerdictFailed
		g.Reason = fmt.Sprintf("not healthy within %s: %d/%d ready: %s", cfg.Timeout, last.Ready, last.Total, unhealthyText(*last))
	}
	return finishHealth(g, last, checks)
}

func finishHealth(g ferry.GateResult, v *ferry.HealthVerdict, checks int) ferry.GateResult {
	g.Ended = time.Now()
	g.Figures = []ferry.Figure{{Name: "checks", Value: strconv.Itoa(checks)}}
	if v != nil {
		g.Figures = append(g.Figures, ferry.Figure{Name: "ready", Value: fmt.Sprintf("%d/%d", v.Ready, v.Total)})
	}
	return g
}

// unhealthyText names each object that is not healthy, with its reason.
func unhealthyText(v ferry.HealthVerdict) string {
	var parts []string
	for _, o := range v.Objects {
		if o.Status == ferry.HealthHealthy {
			continue
		}
		s := o.Ref.String() + " " + string(o.Status)
		if o.Reason != "" {
			s += " (" + o.Reason + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return v.Reason
	}
	return strings.Join(parts, "; ")
}
