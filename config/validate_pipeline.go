package config

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

func (v *validator) pipeline(p *Pipeline, path string, targets map[string]string) {
	if p.Name != "" && !dnsLabel(p.Name) {
		v.add(path+".name", "%q is not a valid pipeline name: %s", p.Name, dnsLabelRule)
	}
	v.source(&p.Source, path+".source")
	if p.Chart != "" {
		if err := repoPath(p.Chart); err != nil {
			v.add(path+".chart", "%v", err)
		}
	}
	v.repoPaths(p.Values, path+".values")
	v.environmentGraph(p.Environments, path)
	envNames := map[string]string{}
	for j := range p.Environments {
		epath := fmt.Sprintf("%s.environments[%d]", path, j)
		e := &p.Environments[j]
		v.unique(envNames, e.Name, epath+".name", "environment")
		v.environment(e, epath, targets)
	}
}

func (v *validator) repoPaths(paths []string, path string) {
	for i, p := range paths {
		if err := repoPath(p); err != nil {
			v.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
		}
	}
}

func (v *validator) source(s *Source, path string) {
	kind := ""
	if s.URL != "" {
		var err error
		if kind, err = gitURLKind(s.URL); err != nil {
			v.add(path+".url", "%v", err)
		}
	}
	if s.Branch == "" || strings.ContainsAny(s.Branch, " ~^:?*[\\") || strings.Contains(s.Branch, "..") {
		v.add(path+".branch", "%q is not a valid branch name", s.Branch)
	}
	v.positive(s.Interval, path+".interval")
	a := s.Auth
	apath := path + ".auth"
	switch {
	case a.TokenFile != "" && a.SSHKeyFile != "":
		v.add(apath, "set either tokenFile (HTTPS) or sshKeyFile (SSH), not both")
	case a.TokenFile != "" && kind == urlSSH:
		v.add(apath+".tokenFile", "tokenFile is for HTTPS, but the URL uses SSH; use sshKeyFile and knownHostsFile")
	case a.SSHKeyFile != "" && kind == urlHTTP:
		v.add(apath+".sshKeyFile", "sshKeyFile is for SSH, but the URL uses HTTPS; use tokenFile")
	case a.SSHKeyFile != "" && a.KnownHostsFile == "":
		v.add(apath+".knownHostsFile", "is required with sshKeyFile, so that the server's host key is checked")
	case a.KnownHostsFile != "" && a.SSHKeyFile == "":
		v.add(apath+".knownHostsFile", "is only used with sshKeyFile")
	}
}

// environmentGraph checks that exactly one environment follows the branch
// and every other takes revisions from an existing one, without cycles.
func (v *validator) environmentGraph(envs []Environment, path string) {
	index := map[string]int{}
	for j, e := range envs {
		if _, dup := index[e.Name]; !dup && e.Name != "" {
			index[e.Name] = j
		}
	}
	var roots []string
	for j, e := range envs {
		fpath := fmt.Sprintf("%s.environments[%d].from", path, j)
		switch _, ok := index[e.From]; {
		case e.From == "":
			roots = append(roots, e.Name)
		case e.From == e.Name:
			v.add(fpath, "environment %q cannot take revisions from itself", e.Name)
		case !ok:
			msg := fmt.Sprintf("no environment named %q in this pipeline", e.From)
			if s := closest(e.From, keysOfMap(index)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			v.add(fpath, "%s", msg)
		}
	}
	if len(envs) > 0 && len(roots) != 1 {
		v.add(path+".environments", "exactly one environment must have no `from` (the one that follows the branch); found %d: %s",
			len(roots), strings.Join(quoteAll(roots), ", "))
	}
	for j, e := range envs {
		seen := map[string]bool{e.Name: true}
		chain := []string{e.Name}
		for cur := e; cur.From != "" && cur.From != cur.Name; {
			k, ok := index[cur.From]
			if !ok {
				break
			}
			cur = envs[k]
			chain = append(chain, cur.Name)
			if seen[cur.Name] {
				if cur.Name == e.Name {
					v.add(fmt.Sprintf("%s.environments[%d].from", path, j), "environments take revisions from each other in a cycle: %s", strings.Join(chain, " ← "))
				}
				break
			}
			seen[cur.Name] = true
		}
	}
}

func (v *validator) environment(e *Environment, path string, targets map[string]string) {
	if e.Name != "" && !dnsLabel(e.Name) {
		v.add(path+".name", "%q is not a valid environment name: %s", e.Name, dnsLabelRule)
	}
	// An empty namespace or release comes from an invalid environment
	// name, already reported.
	if e.Namespace != "" && !dnsLabel(e.Namespace) {
		v.add(path+".namespace", "%q is not a valid namespace name: %s", e.Namespace, dnsLabelRule)
	}
	for k, val := range e.NamespaceLabels {
		if err := labelPair(k, val); err != nil {
			v.add(mapKeyPath(path+".namespaceLabels", k), "%v", err)
		}
	}
	switch {
	case e.Release == "":
	case len(e.Release) > maxReleaseName:
		v.add(path+".release", "release name %q is %d characters; Helm allows at most %d (set release: to a shorter name)", e.Release, len(e.Release), maxReleaseName)
	case !dnsSubdomain(e.Release):
		v.add(path+".release", "%q is not a valid Helm release name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", e.Release)
	}
	target := strings.Join([]string{e.Kubeconfig, e.Context, e.Namespace, e.Release}, "\x00")
	if first, ok := targets[target]; ok {
		v.add(path+".release", "release %q in namespace %q is already deployed by %s", e.Release, e.Namespace, first)
	} else {
		targets[target] = path
	}
	v.repoPaths(e.Values, path+".values")
	v.setExprs(e.Set, path+".set", v.opts.ValidateSet)
	v.setExprs(e.SetString, path+".setString", v.opts.ValidateSetString)
	v.gates(&e.Gates, path+".gates")
	if a := e.Approval; a != nil {
		v.approval(a, path+".approval")
	}
	for i, w := range e.Windows {
		wpath := fmt.Sprintf("%s.windows[%d]", path, i)
		if w.Schedule != "" {
			if _, err := ParseSchedule(w.Schedule); err != nil {
				v.add(wpath+".schedule", "%v", err)
			}
		}
		v.positive(w.Duration, wpath+".duration")
	}
	if e.MaxHistory < 0 {
		v.add(path+".maxHistory", "must be 0 (keep all) or more, got %d", e.MaxHistory)
	}
}

func (v *validator) setExprs(exprs []string, path string, check func(string) error) {
	for i, s := range exprs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if strings.TrimSpace(s) == "" {
			v.add(p, "must not be empty")
			continue
		}
		if check != nil {
			if err := check(s); err != nil {
				v.add(p, "%v", err)
			}
		}
	}
}

func (v *validator) approval(a *Approval, path string) {
	seen := map[string]string{}
	for i, who := range a.Approvers {
		p := fmt.Sprintf("%s.approvers[%d]", path, i)
		if who == "" {
			v.add(p, "must name a ferry identity")
			continue
		}
		if first, ok := seen[who]; ok {
			v.add(p, "approver %q is already listed at %s", who, first)
		}
		seen[who] = p
	}
	switch {
	case a.Required < 0:
		v.add(path+".required", "must be 0 or more, got %d", a.Required)
	case a.Required > 0 && len(a.Approvers) == 0:
		v.add(path+".approvers", "%d approval(s) required but no approvers listed", a.Required)
	case a.Required > len(a.Approvers):
		v.add(path+".required", "%d approvals required but only %d approvers listed", a.Required, len(a.Approvers))
	}
}

func (v *validator) gates(g *Gates, path string) {
	v.positive(g.Health.Timeout, path+".health.timeout")
	if lt := g.LoadTest; lt != nil {
		lpath := path + ".loadTest"
		for i, u := range lt.URLs {
			if err := httpURL(u); err != nil {
				v.add(fmt.Sprintf("%s.urls[%d]", lpath, i), "%v", err)
			}
		}
		if !httpMethod.MatchString(lt.Method) {
			v.add(lpath+".method", "%q is not an HTTP method (GET, POST, ...)", lt.Method)
		}
		v.positive(lt.Duration, lpath+".duration")
		v.positive(lt.Timeout, lpath+".timeout")
		slo := lt.SLO
		if slo.P95 > 0 && slo.P99 > 0 && slo.P95 > slo.P99 {
			v.add(lpath+".slo.p95", "p95 (%s) cannot be above p99 (%s)", slo.P95, slo.P99)
		}
		sent := int(lt.Rate.PerSecond() * lt.Duration.Seconds())
		switch {
		case slo.MinRequests < 0:
			v.add(lpath+".slo.minRequests", "must be 0 or more, got %d", slo.MinRequests)
		case lt.Rate.Freq > 0 && lt.Duration > 0 && slo.MinRequests > sent:
			v.add(lpath+".slo.minRequests", "%d can never be reached: rate %s for %s sends %d requests", slo.MinRequests, lt.Rate, lt.Duration, sent)
		}
	}
	if pol := g.Policy; pol != nil {
		names := map[string]string{}
		for i, r := range pol.Rules {
			v.unique(names, r.Name, fmt.Sprintf("%s.policy.rules[%d].name", path, i), "rule")
		}
	}
}

// URL kinds, for matching auth to the transport.
const (
	urlHTTP  = "http"
	urlSSH   = "ssh"
	urlLocal = "local"
)

// gitURLKind classifies a Git remote the way go-git reads it.
func gitURLKind(s string) (string, error) {
	bad := fmt.Errorf("%q is not a Git URL; use https://, ssh://, user@host:path, file:// or an absolute path", s)
	switch {
	case strings.HasPrefix(s, "https://"), strings.HasPrefix(s, "http://"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return "", bad
		}
		return urlHTTP, nil
	case strings.HasPrefix(s, "ssh://"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return "", bad
		}
		return urlSSH, nil
	case scpLike.MatchString(s):
		return urlSSH, nil
	case strings.HasPrefix(s, "file://") && len(s) > len("file://"), strings.HasPrefix(s, "/"):
		return urlLocal, nil
	}
	return "", bad
}

func keysOfMap(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
