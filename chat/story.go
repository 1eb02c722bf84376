package chat

import (
	"slices"
	"time"

	"github.com/ferry-gitops/ferry"
)

// maxChanged is how many changed files the parent message names.
const maxChanged = 5

// applyEvent folds an event into a revision's message state: commit facts,
// the environment's status line, its approval buttons and decisions, and the
// superseded mark. It is pure, so replaying an event changes nothing more.
// order is the pipeline's environment order (may be nil).
func applyEvent(st MessageState, ev ferry.Event, order []string, loc *time.Location) MessageState {
	st = cloneState(st)
	if ev.Revision.Subject != "" {
		st.Subject = ev.Revision.Subject
	}
	if ev.Revision.Author != "" {
		st.Author = ev.Revision.Author
	}
	if files := ev.Revision.ChangedFiles; len(files) > 0 && len(st.Changed) == 0 {
		n := min(len(files), maxChanged)
		st.Changed, st.ChangedMore = slices.Clone(files[:n]), len(files)-n+ev.Revision.ChangedFilesMore
	}
	st.Envs = orderEnvs(st.Envs, order)

	envName := ev.Environment
	if envName == "" && ev.Approval != nil {
		envName = ev.Approval.Environment
	}
	if envName == "" {
		return st
	}
	i := slices.IndexFunc(st.Envs, func(e EnvLine) bool { return e.Name == envName })
	if i < 0 {
		st.Envs = append(st.Envs, EnvLine{Name: envName, Status: notStarted})
		i = len(st.Envs) - 1
	}
	env := &st.Envs[i]
	if p := ev.Promotion; p != nil {
		env.Phase, env.Status = p.Phase, statusText(p)
		env.AwaitingApproval = awaitingApproval(p, ev.Gates)
		if p.Phase == ferry.PhaseSuperseded {
			st.Superseded = p.Reason
			if st.Superseded == "" {
				st.Superseded = "superseded by a newer revision"
			}
		}
	}
	if ev.Kind == ferry.EventApproval && ev.Approval != nil {
		if d := decisionText(*ev.Approval, loc); !slices.Contains(env.Decisions, d) {
			env.Decisions = append(env.Decisions, d)
		}
		// Without the promotion's new state, a decision ends the wait: the
		// buttons give way to who decided.
		if ev.Promotion == nil {
			env.AwaitingApproval = false
		}
	}
	return st
}

// orderEnvs returns the lines with one per environment in order first (new
// ones not started), then any others in their existing order.
func orderEnvs(envs []EnvLine, order []string) []EnvLine {
	if len(order) == 0 {
		return envs
	}
	out := make([]EnvLine, 0, max(len(order), len(envs)))
	for _, name := range order {
		if i := slices.IndexFunc(envs, func(e EnvLine) bool { return e.Name == name }); i >= 0 {
			out = append(out, envs[i])
		} else {
			out = append(out, EnvLine{Name: name, Status: notStarted})
		}
	}
	for _, e := range envs {
		if !slices.Contains(order, e.Name) {
			out = append(out, e)
		}
	}
	return out
}
