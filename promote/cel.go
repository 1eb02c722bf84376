package promote

import (
	"fmt"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/google/cel-go/cel"
)

// celCostLimit bounds the work one rule may do on one object, so a rule
// cannot stall a promotion.
const celCostLimit = 1_000_000

// celRule is one compiled policy rule.
type celRule struct {
	name    string
	message string
	program cel.Program
}

// compileRules compiles every rule against an environment where the object
// is `object`; each must return a boolean.
func compileRules(rules []config.PolicyRule) ([]celRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	env, err := cel.NewEnv(cel.Variable("object", cel.DynType))
	if err != nil {
		return nil, fmt.Errorf("policy rules: %w", err)
	}
	out := make([]celRule, 0, len(rules))
	for i, r := range rules {
		ast, iss := env.Compile(r.CEL)
		if iss.Err() != nil {
			return nil, fmt.Errorf("policy.rules[%d] (%s): %w", i, r.Name, iss.Err())
		}
		if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
			return nil, fmt.Errorf("policy.rules[%d] (%s): the expression returns %s, not a bool", i, r.Name, t)
		}
		prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
		if err != nil {
			return nil, fmt.Errorf("policy.rules[%d] (%s): %w", i, r.Name, err)
		}
		msg := r.Message
		if msg == "" {
			msg = r.Name
		}
		out = append(out, celRule{name: r.Name, message: msg, program: prg})
	}
	return out, nil
}

// check evaluates the rule on every object.
func (r celRule) check(objects []ferry.Object) (violations, problems []string) {
	for _, o := range objects {
		val, _, err := r.program.Eval(map[string]any{"object": o.Content})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: rule %s: %v", o.ObjectRef, r.name, err))
			continue
		}
		ok, isBool := val.Value().(bool)
		switch {
		case !isBool:
			problems = append(problems, fmt.Sprintf("%s: rule %s returned %v, not a bool", o.ObjectRef, r.name, val.Value()))
		case !ok:
			violations = append(violations, fmt.Sprintf("%s: rule %s: %s", o.ObjectRef, r.name, r.message))
		}
	}
	return violations, problems
}
