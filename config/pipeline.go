package config

import (
	"fmt"
	"strings"
)

// Pipeline finds the pipeline a command works on: the named one, or the
// only one when name is empty.
func (c *Config) Pipeline(name string) (*Pipeline, error) {
	names := make([]string, len(c.Pipelines))
	for i := range c.Pipelines {
		if c.Pipelines[i].Name == name || (name == "" && len(c.Pipelines) == 1) {
			return &c.Pipelines[i], nil
		}
		names[i] = c.Pipelines[i].Name
	}
	if name == "" {
		return nil, fmt.Errorf("the config has %d pipelines; choose one with --pipeline: %s", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("no pipeline named %q; the config has: %s", name, strings.Join(names, ", "))
}

// Environment finds an environment of the pipeline by name.
func (p *Pipeline) Environment(name string) (*Environment, error) {
	names := make([]string, len(p.Environments))
	for i := range p.Environments {
		if p.Environments[i].Name == name {
			return &p.Environments[i], nil
		}
		names[i] = p.Environments[i].Name
	}
	return nil, fmt.Errorf("pipeline %s has no environment %q; it has: %s", p.Name, name, strings.Join(names, ", "))
}

// Ordered lists the environments in promotion order: the one following the
// branch first, then each environment after the one it takes revisions
// from, keeping file order among siblings. It expects a validated pipeline.
func (p *Pipeline) Ordered() []*Environment {
	var out []*Environment
	var visit func(from string)
	visit = func(from string) {
		for i := range p.Environments {
			e := &p.Environments[i]
			if e.From == from && e.Name != from {
				out = append(out, e)
				visit(e.Name)
			}
		}
	}
	visit("")
	return out
}

// Summary is one line naming the pipeline and its environments in promotion
// order, each with its gates in the order they run:
//
//	shop: dev [health] → staging [policy, health, loadTest] → prod [window, approval 1 of 2, health]
func (p *Pipeline) Summary() string {
	envs := p.Ordered()
	parts := make([]string, len(envs))
	for i, e := range envs {
		parts[i] = e.Name + " [" + strings.Join(e.GateNames(), ", ") + "]"
	}
	return p.Name + ": " + strings.Join(parts, " → ")
}

// GateNames lists the environment's gates in the order they run: admission
// (window, approval, policy) before applying, verification (health, load
// test) after.
func (e *Environment) GateNames() []string {
	var g []string
	if len(e.Windows) > 0 {
		g = append(g, "window")
	}
	if a := e.Approval; a != nil && a.Required > 0 {
		g = append(g, fmt.Sprintf("approval %d of %d", a.Required, len(a.Approvers)))
	}
	if e.Gates.Policy != nil {
		g = append(g, "policy")
	}
	g = append(g, "health")
	if e.Gates.LoadTest != nil {
		g = append(g, "loadTest")
	}
	return g
}
