package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/harness"
)

// E2EOptions shape the end-to-end run on the fixture.
type E2EOptions struct {
	// Binary is the ferry binary to run.
	Binary string
	// Pushes is how many pushes the webhook figure is taken over.
	Pushes int
	// IdlePoll is the branch poll interval during the idle window; IdleWindow
	// how long the window lasts.
	IdlePoll   time.Duration
	IdleWindow time.Duration
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// E2EResult are the figures of the end-to-end run: the fixture's pipeline
// of three environments, the Git, Slack-protocol and load-test servers of
// internal/harness, and ferry as its own process.
type E2EResult struct {
	// WebhookMs are the times from sending each push's webhook to the
	// dev promotion of that revision being created (ferry's Created stamp;
	// both clocks are this machine's), in push order.
	WebhookMs []float64 `json:"webhookToPromotionMs"`
	// WebhookP50Ms, WebhookP95Ms and WebhookMaxMs summarise them
	// (nearest-rank percentiles).
	WebhookP50Ms float64 `json:"webhookP50Ms"`
	WebhookP95Ms float64 `json:"webhookP95Ms"`
	WebhookMaxMs float64 `json:"webhookMaxMs"`
	// PushesPoll is the poll interval during the pushes: long, so that
	// only the webhook can have told ferry.
	PushesPoll string `json:"pushesPoll"`
	// DevPromotionSeconds is the mean time from a dev promotion's creation
	// to its end (policy, apply, health, load test) during the pushes.
	DevPromotionSeconds float64 `json:"devPromotionSeconds"`
	// PushesPeakRSSMiB is ferry's VmHWM after the pushes (and the
	// promotions they caused in dev, staging and, approved, prod).
	PushesPeakRSSMiB float64 `json:"pushesPeakRSSMiB"`

	Idle IdleResult `json:"idle"`
}

// IdleResult is what one ferry, carrying the fixture's three environments
// all deployed and nothing pending, did to the servers while the repository
// did not change, counted at the servers.
type IdleResult struct {
	Poll      string  `json:"poll"`
	Seconds   float64 `json:"seconds"`
	Intervals float64 `json:"intervals"`
	// Git server: ref advertisements, object fetches (upload-pack
	// negotiations) and bytes served in the window.
	Advertisements int   `json:"refAdvertisements"`
	ObjectFetches  int   `json:"objectFetches"`
	GitBytes       int64 `json:"gitBytesServed"`
	// ChatPosts are chat.postMessage, chat.update and chat.postEphemeral
	// calls; ChatCalls every Web API call.
	ChatPosts int `json:"chatPosts"`
	ChatCalls int `json:"chatCalls"`
	// API are ferry's requests as the API server's flow control counted
	// them (ferry runs as its own user).
	API FerryRequests `json:"apiRequests"`
	// RSSMiB is ferry's resident set at the end of the window, PeakRSSMiB
	// its VmHWM; CPUSeconds the CPU it used in the window.
	RSSMiB     float64 `json:"rssMiB"`
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	// AnonMiB and FileMiB split RSSMiB into anonymous memory and pages of
	// the executable.
	AnonMiB    float64 `json:"anonMiB"`
	FileMiB    float64 `json:"fileMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// UptimeSeconds is how long this ferry process had run at the end.
	UptimeSeconds float64 `json:"uptimeSeconds"`
}

// PerInterval divides a count over the window's poll intervals.
func (r IdleResult) PerInterval(n float64) float64 {
	if r.Intervals == 0 {
		return 0
	}
	return n / r.Intervals
}

const valuesDev = "helm/vibecode-platform/values-dev.yaml"

// E2E runs the fixture end to end: the first revision through dev and
// staging and, approved in Slack, prod; then opts.Pushes pushes each
// announced by a signed webhook (the poll interval long, so only the
// webhook can tell ferry), timing webhook → dev promotion created; then
// ferry restarted as its own Kubernetes user with a short poll interval,
// and an idle window counted at the Git, Slack and API servers, at the end
// of which ferry's RSS is read.
func E2E(ctx context.Context, opts E2EOptions) (E2EResult, error) {
	var res E2EResult
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	logf := func(format string, args ...any) { fmt.Fprintf(progress, "e2e: "+format+"\n", args...) }
	const pushesPoll = 10 * time.Minute
	res.PushesPoll = pushesPoll.String()

	w, err := harness.Start(ctx, harness.Options{Binary: opts.Binary, Poll: pushesPoll, Progress: prefixWriter{progress, "e2e: "}})
	if err != nil {
		return res, err
	}
	defer w.Close()
	fail := func(err error) (E2EResult, error) {
		if p := w.Ferry(); p != nil {
			err = fmt.Errorf("%w\nlast lines of ferry's log:\n%s", err, p.LogTail(20))
		}
		return res, err
	}
	wait := func(env, sha string, phases ...ferry.Phase) (ferry.Promotion, error) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return w.WaitFor(wctx, env, sha, phases...)
	}
	// settle brings sha to every environment: dev and staging on their own,
	// prod once alice approves in Slack.
	settle := func(sha string) error {
		for _, env := range []string{"dev", "staging"} {
			if _, err := wait(env, sha, ferry.PhaseSucceeded); err != nil {
				return err
			}
		}
		// A revision that renders prod as it runs ends at once ("render
		// unchanged"); one that changes it waits for approval.
		p, err := wait("prod", sha, ferry.PhaseWaiting, ferry.PhaseSucceeded)
		if err != nil {
			return err
		}
		if p.Phase == ferry.PhaseSucceeded {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err = w.Click(cctx, "prod", sha, harness.SlackAlice, true)
		cancel()
		if err != nil {
			return err
		}
		_, err = wait("prod", sha, ferry.PhaseSucceeded)
		return err
	}

	first, err := w.Head()
	if err != nil {
		return fail(err)
	}
	logf("first revision %s: dev, staging, then prod approved in Slack", first[:7])
	if err := settle(first); err != nil {
		return fail(err)
	}

	logf("%d pushes, each announced by a signed webhook (poll interval %s)", opts.Pushes, pushesPoll)
	var promos []time.Duration
	last := first
	for i := 1; i <= opts.Pushes; i++ {
		sha, err := w.Push(ctx, fmt.Sprintf("dev: code-server CPU request %dm", 100+i),
			harness.SetValue(valuesDev, "codeServer.resources.requests.cpu", fmt.Sprintf("%dm", 100+i)))
		if err != nil {
			return fail(err)
		}
		sent := time.Now()
		status, body, err := w.Webhook(ctx)
		if err != nil {
			return fail(err)
		}
		if status/100 != 2 {
			return fail(fmt.Errorf("webhook for %s answered %d: %s", sha[:7], status, body))
		}
		p, err := waitCreated(ctx, w, "dev", sha)
		if err != nil {
			return fail(err)
		}
		lat := p.Created.Sub(sent)
		res.WebhookMs = append(res.WebhookMs, float64(lat.Microseconds())/1000)
		done, err := wait("dev", sha, ferry.PhaseSucceeded)
		if err != nil {
			return fail(err)
		}
		promos = append(promos, done.Ended.Sub(done.Created))
		logf("push %2d/%d %s: webhook → dev promotion created %6.1f ms; dev Succeeded after %.1fs", i, opts.Pushes, sha[:7], res.WebhookMs[i-1], done.Ended.Sub(done.Created).Seconds())
		last = sha
	}
	if len(res.WebhookMs) > 0 {
		sorted := slices.Clone(res.WebhookMs)
		sort.Float64s(sorted)
		res.WebhookP50Ms = percentile(sorted, 50)
		res.WebhookP95Ms = percentile(sorted, 95)
		res.WebhookMaxMs = sorted[len(sorted)-1]
		var sum time.Duration
		for _, d := range promos {
			sum += d
		}
		res.DevPromotionSeconds = sum.Seconds() / float64(len(promos))
	}
	logf("last push %s: staging, then prod approved", last[:7])
	if err := settle(last); err != nil {
		return fail(err)
	}
	if st, err := ReadProc(w.Ferry().PID()); err == nil {
		res.PushesPeakRSSMiB = mib(st.PeakRSS)
	}

	// The idle window: ferry restarted as its own user, so the API server
	// tells its requests apart, with a short poll interval.
	kubeconfig, err := FerryIdentity(ctx, w.Cluster)
	if err != nil {
		return fail(err)
	}
	api, err := NewAPIServer(w.Cluster)
	if err != nil {
		return fail(err)
	}
	logf("restarting ferry as Kubernetes user %q with poll interval %s", FerryUser, opts.IdlePoll)
	err = w.Reconfigure(ctx, func(c *config.Config) {
		for i := range c.Pipelines {
			c.Pipelines[i].Source.Interval = opts.IdlePoll
			for j := range c.Pipelines[i].Environments {
				c.Pipelines[i].Environments[j].Kubeconfig = kubeconfig
			}
		}
		c.State.Kubeconfig = kubeconfig
	})
	if err != nil {
		return fail(err)
	}
	started := time.Now()
	// Let the restarted ferry take up its state (a look at each release)
	// before counting.
	settleFor := 3*opts.IdlePoll + 5*time.Second
	logf("letting ferry settle for %s, then counting for %s", settleFor, opts.IdleWindow)
	if err := sleep(ctx, settleFor); err != nil {
		return fail(err)
	}
	pid := w.Ferry().PID()
	procBefore, err := ReadProc(pid)
	if err != nil {
		return fail(err)
	}
	apiBefore, err := api.Ferry(ctx)
	if err != nil {
		return fail(err)
	}
	calls := len(w.Slack.Transcript())
	w.Git.ResetStats()
	t0 := time.Now()
	if err := sleep(ctx, opts.IdleWindow); err != nil {
		return fail(err)
	}
	gs := w.Git.Stats()
	window := time.Since(t0)
	apiAfter, err := api.Ferry(ctx)
	if err != nil {
		return fail(err)
	}
	procAfter, err := ReadProc(pid)
	if err != nil {
		return fail(err)
	}
	if exited, err := w.Ferry().Exited(); exited {
		return fail(fmt.Errorf("ferry exited during the idle window: %v", err))
	}
	idle := IdleResult{
		Poll: opts.IdlePoll.String(), Seconds: window.Seconds(), Intervals: window.Seconds() / opts.IdlePoll.Seconds(),
		Advertisements: gs.Advertisements, ObjectFetches: gs.Negotiations, GitBytes: gs.BytesOut,
		API:        apiAfter.Sub(apiBefore),
		RSSMiB:     mib(procAfter.RSS),
		PeakRSSMiB: mib(procAfter.PeakRSS),
		AnonMiB:    mib(procAfter.AnonRSS),
		FileMiB:    mib(procAfter.FileRSS),
		CPUSeconds: (procAfter.CPU - procBefore.CPU).Seconds(),
	}
	idle.UptimeSeconds = time.Since(started).Seconds()
	for _, c := range w.Slack.Transcript()[calls:] {
		idle.ChatCalls++
		switch c.Method {
		case "chat.postMessage", "chat.update", "chat.postEphemeral":
			idle.ChatPosts++
		}
	}
	res.Idle = idle
	logf("idle %.0fs (%.1f intervals): %d ref advertisements, %d fetches, %d chat posts, API writes %.0f (Lease %.0f), reads %.0f; RSS %.1f MiB",
		idle.Seconds, idle.Intervals, idle.Advertisements, idle.ObjectFetches, idle.ChatPosts,
		idle.API.OtherWrites, idle.API.LeaseWrites, idle.API.Reads, idle.RSSMiB)
	return res, nil
}

// waitCreated polls ferry's API until env has a promotion of sha, and
// returns it. The poll is quick so the wait adds little, but the figure is
// ferry's own Created stamp, not when the poll saw it.
func waitCreated(ctx context.Context, w *harness.World, env, sha string) (ferry.Promotion, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		proms, err := w.API.History(ctx, w.Pipeline, env, 0)
		if err == nil {
			if p, ok := harness.PromotionOf(proms, sha); ok {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return ferry.Promotion{}, fmt.Errorf("no %s promotion of %s within a minute of its webhook (last error: %v)", env, sha[:7], err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest rank: the smallest value with at least p% of the values at or below it.
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// prefixWriter prefixes each write (one line, from the harness) with p.
type prefixWriter struct {
	w io.Writer
	p string
}

func (pw prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(pw.w, pw.p+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
