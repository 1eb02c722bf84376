package promote

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// maxListed caps the violations spelled out in a reason; the count is
// always given in full.
const maxListed = 20

// Policy is the policy gate of one environment, built once from its config:
// Pod Security Standards on every pod template, NetworkPolicy coverage and
// CEL rules over every object. It is safe for concurrent use.
type Policy struct {
	level                psaapi.LevelVersion
	checkPods            bool
	evaluator            psapolicy.Evaluator
	requireNetworkPolicy bool
	rules                []celRule
}

// NewPolicy builds the policy gate; a bad level or a CEL rule that does not
// compile to a boolean is a config error.
func NewPolicy(cfg config.PolicyGate) (*Policy, error) {
	p := &Policy{requireNetworkPolicy: cfg.RequireNetworkPolicy}
	if cfg.PodSecurity != "" && cfg.PodSecurity != config.PodSecurityPrivileged {
		level, err := psaapi.ParseLevel(cfg.PodSecurity)
		if err != nil {
			return nil, fmt.Errorf("policy.podSecurity: %w", err)
		}
		ev, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
		if err != nil {
			return nil, fmt.Errorf("policy.podSecurity: building the Pod Security checks: %w", err)
		}
		p.level = psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}
		p.checkPods, p.evaluator = true, ev
	}
	rules, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	p.rules = rules
	return p, nil
}

// Check runs every check on the release's objects and hooks. Each violation
// names the object and the field; a rule that cannot be evaluated on an
// object is an Error unless violations already fail the gate.
func (p *Policy) Check(r ferry.Rendered) ferry.GateResult {
	g := ferry.GateResult{Gate: "policy"}
	objects := append(append([]ferry.Object(nil), r.Objects...), r.Hooks...)
	pods, problems := podTemplates(objects, r.Namespace)
	var violations []string
	if p.checkPods {
		for _, pt := range pods {
			violations = append(violations, p.podSecurity(pt)...)
		}
	}
	if p.requireNetworkPolicy {
		v, errs := networkPolicyCoverage(objects, pods, r.Namespace)
		violations = append(violations, v...)
		problems = append(problems, errs...)
	}
	for _, rule := range p.rules {
		v, errs := rule.check(objects)
		violations = append(violations, v...)
		problems = append(problems, errs...)
	}
	g.Figures = []ferry.Figure{
		{Name: "objects", Value: strconv.Itoa(len(objects))},
		{Name: "pod templates", Value: strconv.Itoa(len(pods))},
		{Name: "violations", Value: strconv.Itoa(len(violations))},
	}
	switch {
	case len(violations) > 0:
		g.Verdict = ferry.VerdictFailed
		g.Reason = fmt.Sprintf("%d %s: %s", len(violations), plural(len(violations), "violation", "violations"), listSome(append(violations, problems...)))
	case len(problems) > 0:
		g.Verdict = ferry.VerdictError
		g.Reason = fmt.Sprintf("%d %s: %s", len(problems), plural(len(problems), "check could not run", "checks could not run"), listSome(problems))
	default:
		g.Verdict = ferry.VerdictPassed
		g.Reason = fmt.Sprintf("no violations in %d %s (%d %s)", len(objects), plural(len(objects), "object", "objects"), len(pods), plural(len(pods), "pod template", "pod templates"))
		if p.checkPods {
			g.Reason += ", Pod Security " + string(p.level.Level)
		}
	}
	return g
}

// podSecurity checks one pod template against the level; each forbidden
// check becomes one violation naming the object and the pod spec's path.
func (p *Policy) podSecurity(pt podTemplate) []string {
	var out []string
	for _, res := range p.evaluator.EvaluatePod(p.level, &pt.meta, &pt.spec) {
		if res.Allowed {
			continue
		}
		v := fmt.Sprintf("%s %s: %s", pt.ref, pt.path, res.ForbiddenReason)
		if res.ForbiddenDetail != "" {
			v += " (" + res.ForbiddenDetail + ")"
		}
		out = append(out, v)
	}
	return out
}

func listSome(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:maxListed], "; ") + fmt.Sprintf("; and %d more", len(items)-maxListed)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
