package config

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// validator collects the problems of a decoded config, locating each by the
// line its path was read from.
type validator struct {
	c        *Config
	opts     Options
	problems Problems
}

func (v *validator) add(path, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if v.c.src != nil {
		p.File, p.Line = v.c.src.file, v.c.src.line(path)
	}
	v.problems = append(v.problems, p)
}

// Validate checks the relations and values decoding cannot: names, paths,
// the environment graph, URLs, schedules, gate figures, `--set` syntax. It
// returns every problem as Problems, or nil.
func (c *Config) Validate(opts Options) error {
	v := &validator{c: c, opts: opts}
	if len(c.Pipelines) == 0 {
		v.add("pipelines", "at least one pipeline is needed")
	}
	names := map[string]string{}
	targets := map[string]string{}
	for i := range c.Pipelines {
		path := fmt.Sprintf("pipelines[%d]", i)
		p := &c.Pipelines[i]
		v.unique(names, p.Name, path+".name", "pipeline")
		v.pipeline(p, path, targets)
	}
	v.chat(&c.Chat)
	v.server(&c.Server)
	v.state(&c.State)
	v.timing(&c.Timing)
	if len(v.problems) == 0 {
		return nil
	}
	return v.problems.sorted()
}

// unique reports a name seen before under seen, which maps names to the
// path that first used them.
func (v *validator) unique(seen map[string]string, name, path, what string) {
	if name == "" {
		return
	}
	if first, ok := seen[name]; ok {
		v.add(path, "%s name %q is already used by %s", what, name, first)
		return
	}
	seen[name] = parentPath(path)
}

// positive reports a duration that is zero or negative where a wait is needed.
func (v *validator) positive(d time.Duration, path string) {
	if d <= 0 {
		v.add(path, "must be more than 0")
	}
}

func (v *validator) chat(ch *Chat) {
	if s := ch.Slack; s != nil {
		if s.Channel != "" && !slackChannelID.MatchString(s.Channel) {
			v.add("chat.slack.channel", "%q is not a Slack channel ID (like C0123456789); ferry uses the ID so a renamed channel keeps working", s.Channel)
		}
		if s.APIURL != "" {
			if err := httpURL(s.APIURL); err != nil {
				v.add("chat.slack.apiURL", "%v", err)
			}
		}
	}
	// Keys in file order (then by name), so a repeated address is reported
	// where it is repeated.
	keys := slices.Sorted(maps.Keys(ch.Users))
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(v.c.src.line(mapKeyPath("chat.users", a)), v.c.src.line(mapKeyPath("chat.users", b)))
	})
	emails := map[string]string{} // lower-cased address → key as written
	for _, key := range keys {
		path := mapKeyPath("chat.users", key)
		switch {
		case slackUserID.MatchString(key):
		case emailAddress(key):
			lower := strings.ToLower(key)
			if first, dup := emails[lower]; dup {
				v.add(path, "%q is the same e-mail address as %q (e-mail addresses match case-insensitively)", key, first)
			} else {
				emails[lower] = key
			}
		default:
			v.add(path, "%q is neither a Slack user ID (like U024BE7LH) nor an e-mail address (like alice@example.com)", key)
		}
		if ch.Users[key] == "" {
			v.add(path, "must name a ferry identity")
		}
	}
}

func (v *validator) server(s *Server) {
	if err := listenAddress(s.Listen); err != nil {
		v.add("server.listen", "%v", err)
	}
}

func (v *validator) state(s *State) {
	if !dnsLabel(s.Namespace) {
		v.add("state.namespace", "%q is not a valid namespace name: %s", s.Namespace, dnsLabelRule)
	}
	if !dnsSubdomain(s.LeaseName) {
		v.add("state.leaseName", "%q is not a valid Lease name: lowercase letters, digits, '-' and '.', at most 253 characters", s.LeaseName)
	}
	if s.HistoryLimit < 1 {
		v.add("state.historyLimit", "must be at least 1, got %d", s.HistoryLimit)
	}
}

func (v *validator) timing(t *Timing) {
	v.positive(t.Resync, "timing.resync")
	if t.Workers < 1 {
		v.add("timing.workers", "must be at least 1, got %d", t.Workers)
	}
	le := t.LeaderElection
	v.positive(le.RetryPeriod, "timing.leaderElection.retryPeriod")
	if le.RenewDeadline <= le.RetryPeriod {
		v.add("timing.leaderElection.renewDeadline", "must be longer than retryPeriod (%s), got %s", le.RetryPeriod, le.RenewDeadline)
	}
	if le.LeaseDuration <= le.RenewDeadline {
		v.add("timing.leaderElection.leaseDuration", "must be longer than renewDeadline (%s), got %s", le.RenewDeadline, le.LeaseDuration)
	}
	v.positive(t.ChatRetry.Initial, "timing.chatRetry.initial")
	if t.ChatRetry.Max < t.ChatRetry.Initial {
		v.add("timing.chatRetry.max", "must be at least initial (%s), got %s", t.ChatRetry.Initial, t.ChatRetry.Max)
	}
}
