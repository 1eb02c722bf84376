package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// Files of the fixture repository the story edits.
const (
	valuesDev     = "helm/vibecode-platform/values-dev.yaml"
	valuesStaging = "helm/vibecode-platform/values-staging.yaml"
	valuesProd    = "helm/vibecode-platform/values-prod.yaml"
	helpers       = "helm/vibecode-platform/templates/_helpers.tpl"
)

// The container security context of the fixture chart's helpers, and the
// same with a capability added: baseline admits CHOWN, restricted admits
// nothing but NET_BIND_SERVICE.
const (
	securityContextBefore = `allowPrivilegeEscalation: false
{{- if eq .Values.security.podSecurityStandards.enforce "restricted" }}
capabilities:
  drop:
    - ALL
{{- end }}`
	securityContextChown = `allowPrivilegeEscalation: false
capabilities:
  add:
    - CHOWN
{{- if eq .Values.security.podSecurityStandards.enforce "restricted" }}
  drop:
    - ALL
{{- end }}`
)

// StepTimeout bounds the wait for one environment to reach a phase.
const StepTimeout = 3 * time.Minute

// Names of the revisions the story pushes, keys of Story.Revs.
const (
	RevInitial         = "initial"
	RevCPU             = "cpu-200m"
	RevBadImage        = "dev-image-typo"
	RevBadImageRevert  = "dev-image-typo-revert"
	RevOverQuota       = "dev-over-quota"
	RevOverQuotaRevert = "dev-over-quota-revert"
	RevChown           = "chown-capability"
	RevChownRevert     = "chown-capability-revert"
	RevQuotaFit        = "dev-over-quota-gated"
	RevQuotaFitRevert  = "dev-over-quota-gated-revert"
	RevBrokenValues    = "dev-values-indentation"
	RevBrokenRevert    = "dev-values-indentation-revert"
	RevStagingTypo     = "staging-image-typo"
	RevStagingTypoRev  = "staging-image-typo-revert"
	RevProdLimit       = "prod-cpu-limit"
)

// Configure adjusts the run's config for the story: dev starts without its
// quota-fit gate, so that a change beyond dev's quota reaches the API server
// and its refusal shows; the story later restarts ferry with the gate on, as
// the fixture has it, and shows the same change stopped before apply.
// Pass it as Options.Configure.
func Configure(c *config.Config) { setDevQuotaFit(c, false) }

func setDevQuotaFit(c *config.Config, on bool) {
	for i := range c.Pipelines[0].Environments {
		e := &c.Pipelines[0].Environments[i]
		if e.Name == "dev" && e.Gates.Policy != nil {
			e.Gates.Policy.QuotaFit = on
		}
	}
}

// Story drives the vibecode-platform story of `make demo` through ferry's
// real interfaces and checks what actually happened at each step. The demo
// prints it; the end-to-end suite runs it and then checks the totals.
// A Story is not safe for concurrent use: run its steps in order.
type Story struct {
	w   *World
	out io.Writer
	// Revs are the SHAs the story pushed (or found, for the first), by name.
	Revs map[string]string
	// Order lists the names of Revs in push order.
	Order []string
	// Applied is, per environment, the SHA of the last revision ferry
	// applied there and that passed verification.
	Applied map[string]string
	// Approved are the prod promotions that were approved and applied.
	Approved []ferry.Promotion
}

// Step is one part of the story: a title and what it does and checks.
type Step struct {
	// Name is short and stable, for test names; Title says what happens.
	Name, Title string
	Run         func(ctx context.Context) error
}

// NewStory returns the story for w, narrating to out.
func NewStory(w *World, out io.Writer) *Story {
	return &Story{w: w, out: out, Revs: map[string]string{}, Applied: map[string]string{}}
}

// Steps lists the story in order. Each step depends on the ones before.
func (s *Story) Steps() []Step {
	return []Step{
		{"first", "the first revision deploys to dev, passes staging's gates and waits for approval in prod", s.first},
		{"approve", "alice clicks Approve in Slack and prod deploys that revision", s.approve},
		{"cpu", "the seed's upgrade: code-server's CPU request in dev 100m → 200m flows dev → staging → prod", s.cpu},
		{"bad-image", "an image tag typo in dev fails dev's health gate (ImagePullBackOff) and goes no further", s.badImage},
		{"bad-image-revert", "the typo is reverted and dev is healthy again", s.revertOf(RevBadImage, RevBadImageRevert, "dev")},
		{"over-quota", "requests beyond dev's quota: the API server refuses the pods and dev's health gate fails", s.overQuota},
		{"over-quota-revert", "the quota change is reverted", s.revertOf(RevOverQuota, RevOverQuotaRevert, "dev")},
		{"quota-fit-restart", "ferry restarts with dev's quota-fit gate on, as the fixture has it: the same change stops before apply", s.quotaFit},
		{"quota-fit-revert", "the gated quota change is reverted", s.revertOf(RevQuotaFit, RevQuotaFitRevert, "")},
		{"broken-values", "a mis-indented values-dev.yaml is refused at render with file:line; every environment keeps its last good revision", s.brokenValues},
		{"broken-values-revert", "the values file is repaired", s.revertOf(RevBrokenValues, RevBrokenRevert, "")},
		{"chown", "a chart change that baseline admits passes dev; staging's restricted policy stops it before apply", s.chown},
		{"chown-revert", "the capability is reverted", s.revertOf(RevChown, RevChownRevert, "dev")},
		{"staging-typo", "an image typo in values-staging.yaml alone: dev is a no-op, staging fails health and rolls back", s.stagingTypo},
		{"staging-typo-revert", "the staging typo is reverted", s.revertOf(RevStagingTypo, RevStagingTypoRev, "")},
		{"reject", "a prod-only change waits for approval and bob clicks Reject", s.reject},
		{"prod-approved-only", "prod runs the approved revision only", s.prodApprovedOnly},
	}
}

func (s *Story) say(format string, args ...any) {
	fmt.Fprintf(s.out, "  "+format+"\n", args...)
}

// push commits edits, tells ferry with a signed webhook and records the SHA.
func (s *Story) push(ctx context.Context, name, message string, edits ...Edit) (string, error) {
	sha, err := s.w.Push(ctx, message, edits...)
	if err != nil {
		return "", err
	}
	return sha, s.pushed(ctx, name, sha, message)
}

func (s *Story) pushed(ctx context.Context, name, sha, message string) error {
	s.Revs[name] = sha
	s.Order = append(s.Order, name)
	s.say("git push: %s %q", short(sha), message)
	code, body, err := s.w.Webhook(ctx)
	if err != nil {
		return err
	}
	s.say("webhook (signed push event) → HTTP %d %s", code, body)
	if code != http.StatusAccepted {
		return fmt.Errorf("webhook answered %d %s, want 202", code, body)
	}
	return nil
}

// expect waits until sha's promotion in env is in phase and narrates it.
func (s *Story) expect(ctx context.Context, env, sha string, phase ferry.Phase) (ferry.Promotion, error) {
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	p, err := s.w.WaitFor(ctx, env, sha, phase)
	if err != nil {
		return p, err
	}
	how := p.Reason
	if p.HelmRevision > 0 {
		how = fmt.Sprintf("Helm revision %d; %s", p.HelmRevision, p.Reason)
	}
	s.say("%-7s %s %s: %s", env, short(sha), p.Phase, how)
	for _, g := range p.Gates {
		s.say("          %s %s: %s", g.Gate, g.Verdict, g.Reason)
	}
	if p.Phase == ferry.PhaseSucceeded && p.HelmRevision > 0 {
		s.Applied[env] = sha
	}
	return p, nil
}

// passed checks that p's named gates passed.
func passed(p ferry.Promotion, gates ...string) error {
	for _, name := range gates {
		g, ok := Gate(p, name)
		if !ok {
			return fmt.Errorf("%s in %s has no %s gate result%s", p.Revision.Short(), p.Environment, name, Gates(p))
		}
		if g.Verdict != ferry.VerdictPassed {
			return fmt.Errorf("%s in %s: gate %s is %s, want Passed: %s", p.Revision.Short(), p.Environment, name, g.Verdict, g.Reason)
		}
	}
	return nil
}

// failed checks that p's named gate failed with a reason containing each of
// want.
func failed(p ferry.Promotion, gate string, want ...string) error {
	g, ok := Gate(p, gate)
	if !ok {
		return fmt.Errorf("%s in %s has no %s gate result%s", p.Revision.Short(), p.Environment, gate, Gates(p))
	}
	if g.Verdict != ferry.VerdictFailed {
		return fmt.Errorf("%s in %s: gate %s is %s, want Failed: %s", p.Revision.Short(), p.Environment, gate, g.Verdict, g.Reason)
	}
	for _, w := range want {
		if !strings.Contains(g.Reason, w) {
			return fmt.Errorf("%s in %s: gate %s's reason lacks %q: %s", p.Revision.Short(), p.Environment, gate, w, g.Reason)
		}
	}
	return nil
}

// deployed checks that env's deployed Helm revision was rendered from sha.
func (s *Story) deployed(ctx context.Context, env, sha string) (HelmRevision, error) {
	h, err := s.w.Deployed(ctx, env)
	if err != nil {
		return h, err
	}
	if h.SHA != sha {
		return h, fmt.Errorf("%s's deployed Helm revision %d records %s, want %s", env, h.Version, short(h.SHA), short(sha))
	}
	s.say("%-7s Helm revision %d deployed, recorded revision %s, digest %s", env, h.Version, short(h.SHA), h.Digest)
	return h, nil
}

// unchangedHelm checks that env's Helm history still is before.
func (s *Story) unchangedHelm(ctx context.Context, env string, before []HelmRevision) error {
	now, err := s.w.HelmHistory(ctx, env)
	if err != nil {
		return err
	}
	if !slices.Equal(now, before) {
		return fmt.Errorf("%s's Helm history changed: %d records, was %d", env, len(now), len(before))
	}
	return nil
}

// untouched checks that env has no promotion of sha at all.
func (s *Story) untouched(ctx context.Context, env, sha string) error {
	proms, err := s.w.API.History(ctx, s.w.Pipeline, env, 0)
	if err != nil {
		return fmt.Errorf("history of %s: %w", env, err)
	}
	if p, ok := PromotionOf(proms, sha); ok {
		return fmt.Errorf("%s has a promotion of %s (%s: %s), want none", env, short(sha), p.Phase, p.Reason)
	}
	s.say("%-7s never saw %s", env, short(sha))
	return nil
}

// noop waits for sha to succeed in env without a Helm apply.
func (s *Story) noop(ctx context.Context, env, sha string) error {
	before, err := s.w.HelmHistory(ctx, env)
	if err != nil {
		return err
	}
	p, err := s.expect(ctx, env, sha, ferry.PhaseSucceeded)
	if err != nil {
		return err
	}
	if p.HelmRevision != 0 {
		return fmt.Errorf("%s in %s made Helm revision %d, want none (render unchanged)", short(sha), env, p.HelmRevision)
	}
	return s.unchangedHelm(ctx, env, before)
}

// helmSnapshot reads the Helm history of every environment.
func (s *Story) helmSnapshot(ctx context.Context) (map[string][]HelmRevision, error) {
	out := map[string][]HelmRevision{}
	for _, e := range s.w.Config.Pipelines[0].Environments {
		h, err := s.w.HelmHistory(ctx, e.Name)
		if err != nil {
			return nil, err
		}
		out[e.Name] = h
	}
	return out, nil
}

func (s *Story) first(ctx context.Context) error {
	sha, err := s.w.Head()
	if err != nil {
		return err
	}
	s.Revs[RevInitial] = sha
	s.Order = append(s.Order, RevInitial)
	s.say("the repository's first commit %s is on main; ferry read the branch when it started", short(sha))
	dev, err := s.expect(ctx, "dev", sha, ferry.PhaseSucceeded)
	if err != nil {
		return err
	}
	if err := passed(dev, "policy", "health", "loadTest"); err != nil {
		return err
	}
	if _, err := s.deployed(ctx, "dev", sha); err != nil {
		return err
	}
	staging, err := s.expect(ctx, "staging", sha, ferry.PhaseSucceeded)
	if err != nil {
		return err
	}
	if err := passed(staging, "policy", "quotaFit", "health", "loadTest"); err != nil {
		return err
	}
	if _, err := s.deployed(ctx, "staging", sha); err != nil {
		return err
	}
	for _, env := range []string{"dev", "staging"} {
		if n := s.w.Targets[env].Requests(); n < LoadMinRequests {
			return fmt.Errorf("%s's load-test target served %d requests, want at least %d", env, n, LoadMinRequests)
		}
		s.say("%-7s load-test target served %d requests", env, s.w.Targets[env].Requests())
	}
	prod, err := s.expect(ctx, "prod", sha, ferry.PhaseWaiting)
	if err != nil {
		return err
	}
	if prod.Phase != ferry.PhaseWaiting {
		return fmt.Errorf("prod's promotion of %s is %s, want Waiting", short(sha), prod.Phase)
	}
	if _, err := s.waitGate(ctx, "prod", sha, ferry.GateApproval, ferry.VerdictPending); err != nil {
		return err
	}
	hist, err := s.w.HelmHistory(ctx, "prod")
	if err != nil {
		return err
	}
	if len(hist) != 0 {
		return fmt.Errorf("prod has %d Helm records before any approval, want 0", len(hist))
	}
	return nil
}

// waitGate waits until sha's promotion in env has gate with verdict.
func (s *Story) waitGate(ctx context.Context, env, sha, gate string, verdict ferry.Verdict) (ferry.Promotion, error) {
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	for {
		proms, err := s.w.API.History(ctx, s.w.Pipeline, env, 0)
		if err == nil {
			if p, ok := PromotionOf(proms, sha); ok {
				if g, ok := Gate(p, gate); ok && g.Verdict == verdict {
					s.say("%-7s %s gate %s: %s", env, gate, g.Verdict, g.Reason)
					return p, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ferry.Promotion{}, fmt.Errorf("%s in %s: no %s gate %s in time", short(sha), env, gate, verdict)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Story) click(ctx context.Context, env, sha, user string, approve bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	verb := "Reject"
	if approve {
		verb = "Approve"
	}
	r, err := s.w.Click(ctx, env, sha, user, approve)
	if err != nil {
		return err
	}
	s.say("Slack: %s clicked %s on %s (signed interaction) → ferry answered: %s", user, verb, short(sha), oneLine(r.Text))
	return nil
}

func (s *Story) approve(ctx context.Context) error {
	sha := s.Revs[RevInitial]
	if err := s.click(ctx, "prod", sha, SlackAlice, true); err != nil {
		return err
	}
	p, err := s.expect(ctx, "prod", sha, ferry.PhaseSucceeded)
	if err != nil {
		return err
	}
	if err := passed(p, ferry.GateApproval, "policy", "quotaFit", "health", "loadTest"); err != nil {
		return err
	}
	if !slices.ContainsFunc(p.Approvals, func(a ferry.Approval) bool { return a.Actor == Alice && !a.Rejected && a.Revision == sha }) {
		return fmt.Errorf("prod's promotion of %s records no approval by %s: %+v", short(sha), Alice, p.Approvals)
	}
	s.Approved = append(s.Approved, p)
	_, err = s.deployed(ctx, "prod", sha)
	return err
}

func (s *Story) cpu(ctx context.Context) error {
	sha, err := s.push(ctx, RevCPU, "dev: code-server CPU request 100m → 200m",
		SetValue(valuesDev, "codeServer.resources.requests.cpu", "200m"))
	if err != nil {
		return err
	}
	if _, err := s.expect(ctx, "dev", sha, ferry.PhaseSucceeded); err != nil {
		return err
	}
	if _, err := s.deployed(ctx, "dev", sha); err != nil {
		return err
	}
	cpu, err := s.w.CPURequest(ctx, "dev", "code-server", "code-server")
	if err != nil {
		return err
	}
	if cpu != "200m" {
		return fmt.Errorf("dev's live code-server CPU request is %s, want 200m", cpu)
	}
	s.say("dev     live Deployment vibecode-dev-code-server: container code-server requests cpu %s", cpu)
	thread, err := s.w.Thread(sha)
	if err != nil {
		return err
	}
	line, ok := threadLine(thread, "requests.cpu ", "+100m")
	if !ok {
		return fmt.Errorf("the chat thread of %s shows no requests.cpu delta of +100m:\n%s", short(sha), strings.Join(thread, "\n"))
	}
	s.say("chat    the thread of %s shows the resource delta: %s", short(sha), line)
	for _, env := range []string{"staging", "prod"} {
		if err := s.noop(ctx, env, sha); err != nil {
			return err
		}
	}
	return nil
}

// failInDev pushes a change that fails dev's health gate with reasons in
// its health gate, and checks that it went no further.
func (s *Story) failInDev(ctx context.Context, name, message string, edits []Edit, reasons ...string) (ferry.Promotion, error) {
	sha, err := s.push(ctx, name, message, edits...)
	if err != nil {
		return ferry.Promotion{}, err
	}
	p, err := s.expect(ctx, "dev", sha, ferry.PhaseFailed)
	if err != nil {
		return p, err
	}
	if _, err := s.deployed(ctx, "dev", sha); err != nil {
		return p, fmt.Errorf("dev holds a failed revision (onFailure: hold), so it stays deployed: %w", err)
	}
	for _, env := range []string{"staging", "prod"} {
		if err := s.untouched(ctx, env, sha); err != nil {
			return p, err
		}
	}
	return p, failed(p, "health", reasons...)
}

func (s *Story) badImage(ctx context.Context) error {
	_, err := s.failInDev(ctx, RevBadImage, "dev: code-server 4.96.4 → 4.96.4-missing (a typo: no such tag)",
		[]Edit{SetValue(valuesDev, "codeServer.image.tag", `"4.96.4-missing"`)},
		"ImagePullBackOff", "codercom/code-server:4.96.4-missing")
	return err
}

// overQuotaEdits ask for 3 CPUs for code-server in dev, whose quota
// allows 2 in all.
func overQuotaEdits() []Edit {
	return []Edit{
		SetValue(valuesDev, "codeServer.resources.requests.cpu", `"3"`),
		SetValue(valuesDev, "codeServer.resources.limits.cpu", `"3"`),
	}
}

func (s *Story) overQuota(ctx context.Context) error {
	_, err := s.failInDev(ctx, RevOverQuota, "dev: code-server asks for 3 CPUs (dev's quota is 2)", overQuotaEdits(),
		"FailedCreate", "exceeded quota")
	if err != nil {
		return err
	}
	refused, err := s.w.ReplicaFailures(ctx, "dev", "code-server")
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(refused, func(m string) bool {
		return strings.Contains(m, "FailedCreate") && strings.Contains(m, "exceeded quota")
	}) {
		return fmt.Errorf("no ReplicaSet of dev's code-server reports FailedCreate for exceeded quota: %q", refused)
	}
	for _, m := range refused {
		s.say("dev     live %s", m)
	}
	return nil
}

// quotaFit restarts ferry with dev's quota-fit gate on and pushes the
// over-quota change again: it must fail admission with no Helm apply, and
// the restart must not repeat any chat message.
func (s *Story) quotaFit(ctx context.Context) error {
	posted := len(s.w.Slack.Messages(s.w.Channel))
	s.say("ferry.yaml: dev's policy gate gets quotaFit: true; ferry is stopped (SIGTERM) and started again")
	if err := s.w.Reconfigure(ctx, func(c *config.Config) { setDevQuotaFit(c, true) }); err != nil {
		return err
	}
	before, err := s.w.HelmHistory(ctx, "dev")
	if err != nil {
		return err
	}
	sha, err := s.push(ctx, RevQuotaFit, "dev: code-server asks for 3 CPUs again (dev's quota is 2)", overQuotaEdits()...)
	if err != nil {
		return err
	}
	p, err := s.expect(ctx, "dev", sha, ferry.PhaseFailed)
	if err != nil {
		return err
	}
	if err := failed(p, "quotaFit", "CPU of quota 2"); err != nil {
		return err
	}
	if p.HelmRevision != 0 {
		return fmt.Errorf("dev applied %s (Helm revision %d) although its quota-fit gate failed", short(sha), p.HelmRevision)
	}
	if err := s.unchangedHelm(ctx, "dev", before); err != nil {
		return err
	}
	s.say("dev     Helm history unchanged: %d records, the last still %s", len(before), short(before[len(before)-1].SHA))
	// Only the new revision's message may have appeared since the restart.
	if now := len(s.w.Slack.Messages(s.w.Channel)); now != posted+1 {
		return fmt.Errorf("the channel has %d messages after the restart and one push, want %d", now, posted+1)
	}
	for _, env := range []string{"staging", "prod"} {
		if err := s.untouched(ctx, env, sha); err != nil {
			return err
		}
	}
	return nil
}

// brokenValues pushes a values file whose YAML does not parse: dev's render
// fails naming the file and line, nothing is applied anywhere, and each
// environment keeps the revision it ran.
func (s *Story) brokenValues(ctx context.Context) error {
	before, err := s.helmSnapshot(ctx)
	if err != nil {
		return err
	}
	const anchor = "  podAntiAffinity: none\n"
	sha, err := s.push(ctx, RevBrokenValues, "dev: code-server tolerations (indented one level too deep)",
		Replace(valuesDev, anchor, anchor+"    tolerations: []\n"))
	if err != nil {
		return err
	}
	content, err := s.w.FileAt(ctx, sha, valuesDev)
	if err != nil {
		return err
	}
	line := slices.Index(strings.Split(content, "\n"), "    tolerations: []") + 1
	p, err := s.expect(ctx, "dev", sha, ferry.PhaseFailed)
	if err != nil {
		return err
	}
	if err := failed(p, "render", fmt.Sprintf("%s:%d:", valuesDev, line)); err != nil {
		return err
	}
	for _, e := range s.w.Config.Pipelines[0].Environments {
		if err := s.unchangedHelm(ctx, e.Name, before[e.Name]); err != nil {
			return err
		}
		if _, err := s.deployed(ctx, e.Name, s.Applied[e.Name]); err != nil {
			return err
		}
	}
	for _, env := range []string{"staging", "prod"} {
		if err := s.untouched(ctx, env, sha); err != nil {
			return err
		}
	}
	return nil
}

// revertOf returns a step reverting the revision named of, pushed as name,
// that must succeed everywhere; appliedIn, when not empty, is the
// environment where it must have been applied.
func (s *Story) revertOf(of, name, appliedIn string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		bad := s.Revs[of]
		msg := fmt.Sprintf("Revert %s", short(bad))
		sha, err := s.w.Revert(ctx, bad, msg)
		if err != nil {
			return err
		}
		if err := s.pushed(ctx, name, sha, msg); err != nil {
			return err
		}
		for _, e := range s.w.Config.Pipelines[0].Ordered() {
			if _, err := s.expect(ctx, e.Name, sha, ferry.PhaseSucceeded); err != nil {
				return err
			}
			if e.Name == appliedIn {
				if _, err := s.deployed(ctx, appliedIn, sha); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func (s *Story) chown(ctx context.Context) error {
	sha, err := s.push(ctx, RevChown, "chart: let containers chown their workspace (capabilities add CHOWN)",
		Replace(helpers, securityContextBefore, securityContextChown))
	if err != nil {
		return err
	}
	if _, err := s.expect(ctx, "dev", sha, ferry.PhaseSucceeded); err != nil {
		return err
	}
	if _, err := s.deployed(ctx, "dev", sha); err != nil {
		return err
	}
	before, err := s.w.HelmHistory(ctx, "staging")
	if err != nil {
		return err
	}
	p, err := s.expect(ctx, "staging", sha, ferry.PhaseFailed)
	if err != nil {
		return err
	}
	if err := failed(p, "policy", "CHOWN"); err != nil {
		return err
	}
	if p.HelmRevision != 0 {
		return fmt.Errorf("staging applied %s (Helm revision %d) although its policy failed", short(sha), p.HelmRevision)
	}
	if err := s.unchangedHelm(ctx, "staging", before); err != nil {
		return err
	}
	return s.untouched(ctx, "prod", sha)
}

func (s *Story) stagingTypo(ctx context.Context) error {
	good := s.Applied["staging"]
	sha, err := s.push(ctx, RevStagingTypo, "staging: code-server 4.96.4 → 4.96.4-missing (a typo in values-staging.yaml)",
		SetValue(valuesStaging, "codeServer.image.tag", `"4.96.4-missing"`))
	if err != nil {
		return err
	}
	if err := s.noop(ctx, "dev", sha); err != nil {
		return err
	}
	p, err := s.expect(ctx, "staging", sha, ferry.PhaseRolledBack)
	if err != nil {
		return err
	}
	if err := failed(p, "health", "ImagePullBackOff", "4.96.4-missing"); err != nil {
		return err
	}
	if p.HelmRevision == 0 {
		return fmt.Errorf("staging's promotion of %s records no Helm revision, but it was applied", short(sha))
	}
	h, err := s.deployed(ctx, "staging", good)
	if err != nil {
		return fmt.Errorf("after the rollback: %w", err)
	}
	if h.Version <= p.HelmRevision {
		return fmt.Errorf("staging's deployed Helm revision %d is not a rollback after the failed revision %d", h.Version, p.HelmRevision)
	}
	s.say("staging rolled back to its last good revision %s (Helm revision %d after the failed %d)", short(good), h.Version, p.HelmRevision)
	return s.untouched(ctx, "prod", sha)
}

func (s *Story) reject(ctx context.Context) error {
	before, err := s.w.HelmHistory(ctx, "prod")
	if err != nil {
		return err
	}
	sha, err := s.push(ctx, RevProdLimit, "prod: code-server CPU limit 4000m → 6",
		SetValue(valuesProd, "codeServer.resources.limits.cpu", `"6"`))
	if err != nil {
		return err
	}
	for _, env := range []string{"dev", "staging"} {
		if err := s.noop(ctx, env, sha); err != nil {
			return err
		}
	}
	if _, err := s.expect(ctx, "prod", sha, ferry.PhaseWaiting); err != nil {
		return err
	}
	if _, err := s.waitGate(ctx, "prod", sha, ferry.GateApproval, ferry.VerdictPending); err != nil {
		return err
	}
	if err := s.click(ctx, "prod", sha, SlackBob, false); err != nil {
		return err
	}
	p, err := s.expect(ctx, "prod", sha, ferry.PhaseRejected)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(p.Approvals, func(a ferry.Approval) bool { return a.Actor == Bob && a.Rejected && a.Revision == sha }) {
		return fmt.Errorf("prod's promotion of %s records no rejection by %s: %+v", short(sha), Bob, p.Approvals)
	}
	return s.unchangedHelm(ctx, "prod", before)
}

// prodApprovedOnly checks that every Helm revision prod ever ran was
// rendered from a revision approved there.
func (s *Story) prodApprovedOnly(ctx context.Context) error {
	hist, err := s.w.HelmHistory(ctx, "prod")
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		return errors.New("prod has no Helm revision")
	}
	for _, h := range hist {
		if !slices.ContainsFunc(s.Approved, func(p ferry.Promotion) bool { return p.Revision.SHA == h.SHA && p.HelmRevision == h.Version }) {
			return fmt.Errorf("prod's Helm revision %d (%s, %s) was not applied by an approved promotion", h.Version, short(h.SHA), h.Status)
		}
		s.say("prod    Helm revision %d (%s): %s, approved by %s", h.Version, h.Status, short(h.SHA), Alice)
	}
	return nil
}

// threadLine returns the first line of the thread's replies that starts
// with prefix and contains each of want.
func threadLine(thread []string, prefix string, want ...string) (string, bool) {
	for _, reply := range thread {
		for _, l := range strings.Split(reply, "\n") {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, prefix) {
				continue
			}
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return l, true
			}
		}
	}
	return "", false
}
