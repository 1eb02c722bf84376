package promote

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-gitops/ferry"
)

// QuotaReader reads the hard limits and usage of the ResourceQuota in force
// in a namespace, in ferry.ResourceList units; hard is nil when there is
// none. deploy satisfies it; the reconciler passes it in.
type QuotaReader interface {
	Quota(ctx context.Context, namespace string) (hard, used ferry.ResourceList, err error)
}

// QuotaFit checks that what the release asks for, with every autoscaler at its
// maximum, fits the namespace's ResourceQuota. A quota the chart renders
// itself wins over the live one, because it is the one in force once applied;
// with neither, the gate passes. The release's own figures are compared with
// the hard limits, not with hard minus used: the live usage includes the
// release being replaced.
func QuotaFit(ctx context.Context, env string, r ferry.Rendered, live QuotaReader) ferry.GateResult {
	g := ferry.GateResult{Gate: "quotaFit"}
	hard, source := r.Summary.Quota, "rendered"
	if hard == nil && live != nil {
		h, _, err := live.Quota(ctx, r.Namespace)
		if err != nil {
			g.Verdict, g.Reason = ferry.VerdictError, fmt.Sprintf("reading the ResourceQuota of namespace %s: %v", r.Namespace, err)
			return g
		}
		hard, source = h, "live"
	}
	if len(hard) == 0 {
		g.Verdict, g.Reason = ferry.VerdictPassed, "no ResourceQuota in namespace "+r.Namespace
		return g
	}
	var over, fits []string
	atMax := false
	for _, name := range slices.Sorted(maps.Keys(hard)) {
		want, scaled, ok := requested(r.Summary, name)
		if !ok {
			continue
		}
		limit := hard[name]
		g.Figures = append(g.Figures, ferry.Figure{Name: name, Value: formatAmount(name, want) + " of " + formatAmount(name, limit)})
		if want > limit {
			over = append(over, fmt.Sprintf("%s %s of quota %s", formatAmount(name, want), resourceWords(name), formatAmount(name, limit)))
			atMax = atMax || scaled
			continue
		}
		fits = append(fits, fmt.Sprintf("%s %s of %s", formatAmount(name, want), resourceWords(name), formatAmount(name, limit)))
	}
	if len(over) > 0 {
		g.Verdict = ferry.VerdictFailed
		g.Reason = fmt.Sprintf("%s would request %s", env, strings.Join(over, ", "))
		if atMax {
			g.Reason += " with autoscalers at their maximum"
		}
		g.Reason += " (" + source + " ResourceQuota)"
		return g
	}
	g.Verdict = ferry.VerdictPassed
	g.Reason = fmt.Sprintf("fits the %s ResourceQuota: %s", source, strings.Join(fits, ", "))
	if len(fits) == 0 {
		g.Reason = fmt.Sprintf("the release asks for nothing the %s ResourceQuota limits", source)
	}
	return g
}

// requested is what the release asks of a quota resource, at maximum scale
// where the render computed one. Quota's "cpu" and "memory" mean requests.
func requested(s ferry.ResourceSummary, name string) (amount int64, scaled, ok bool) {
	key := name
	if name == "cpu" || name == "memory" {
		key = "requests." + name
	}
	base, hasBase := s.Requested[key]
	if v, has := s.AtMaxScale[key]; has {
		return v, v != base, true
	}
	return base, false, hasBase
}

// resourceWords names a quota resource the way people say it.
func resourceWords(name string) string {
	switch name {
	case "cpu", "requests.cpu":
		return "CPU"
	case "limits.cpu":
		return "CPU limits"
	case "memory", "requests.memory":
		return "memory"
	case "limits.memory":
		return "memory limits"
	case "requests.storage":
		return "storage"
	case "requests.ephemeral-storage":
		return "ephemeral storage"
	case "limits.ephemeral-storage":
		return "ephemeral storage limits"
	}
	return name
}

// formatAmount writes CPU in cores, memory and storage in binary units and
// counts as plain numbers, following ferry.ResourceList's units.
func formatAmount(name string, v int64) string {
	switch {
	case name == "cpu" || strings.HasSuffix(name, ".cpu"):
		return strconv.FormatFloat(float64(v)/1000, 'f', -1, 64)
	case name == "memory" || strings.HasSuffix(name, "memory") || strings.HasSuffix(name, "storage"):
		return formatBytes(v)
	}
	return strconv.FormatInt(v, 10)
}

func formatBytes(v int64) string {
	units := []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}}
	for _, u := range units {
		if v >= u.size {
			s := strconv.FormatFloat(float64(v)/float64(u.size), 'f', 2, 64)
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
			return s + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}
