// Command ferry-demo is the driver behind `make demo`. It starts a local
// control plane, a Git server holding the vibecode-platform repository, a
// Slack-protocol server, loopback load-test targets and `ferry run` as its
// own process (internal/harness), then tells the story of one chart through
// dev, staging and prod using only ferry's real interfaces: commits on the
// branch, signed webhooks, signed Slack clicks and the ferry CLI. Each step
// checks what actually happened and is timed; chat updates are printed as
// they arrive. It exits 0 when every step passed and 1 at the first that did
// not, with the reason.
//
// KEEP=1 leaves everything running after the story and prints how to use
// ferry, kubectl and git against it, until Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-gitops/ferry/internal/harness"
)

func main() {
	binary := flag.String("ferry", "", "ferry binary to run (default: build ./cmd/ferry)")
	keep := flag.Bool("keep", os.Getenv("KEEP") == "1", "leave everything running after the story, until Ctrl-C (also KEEP=1)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, *binary, *keep)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "\nferry-demo: FAILED:", err)
		os.Exit(1)
	}
}

// timing is how long one part of the demo took.
type timing struct {
	title string
	took  time.Duration
}

func run(ctx context.Context, out io.Writer, binary string, keep bool) error {
	start := time.Now()
	var times []timing
	if binary != "" {
		abs, err := filepath.Abs(binary)
		if err != nil {
			return fmt.Errorf("--ferry %s: %w", binary, err)
		}
		binary = abs
	}

	fmt.Fprintln(out, "▶ starting the servers and ferry")
	w, err := harness.Start(ctx, harness.Options{Binary: binary, Configure: harness.Configure, Progress: out})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer w.Close()
	times = append(times, timing{"start the servers and ferry", time.Since(start)})

	stopChat := w.WatchChat(out, 200*time.Millisecond)
	story := harness.NewStory(w, out)
	steps := story.Steps()
	for i, s := range steps {
		fmt.Fprintf(out, "\n▶ step %d/%d: %s\n", i+1, len(steps), s.Title)
		began := time.Now()
		err := s.Run(ctx)
		took := time.Since(began).Round(100 * time.Millisecond)
		times = append(times, timing{s.Title, took})
		if err != nil {
			stopChat()
			fmt.Fprintf(out, "✗ step %d failed after %s\n\nlast lines of the ferry log (%s):\n%s\n", i+1, took, w.LogPath(), w.Ferry().LogTail(40))
			return fmt.Errorf("step %d (%s): %w", i+1, s.Title, err)
		}
		fmt.Fprintf(out, "✓ step %d passed in %s\n", i+1, took)
	}
	stopChat()

	if err := summary(ctx, out, w); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n▶ time per step")
	for _, t := range times {
		fmt.Fprintf(out, "  %8s  %s\n", t.took.Round(100*time.Millisecond), t.title)
	}
	fmt.Fprintf(out, "  %8s  in all\n", time.Since(start).Round(time.Second))
	fmt.Fprintln(out, "\n✓ the demo passed: every step checked against ferry's history, Helm's records, live objects and the chat transcript")

	if keep {
		return keepRunning(ctx, out, w)
	}
	return nil
}

// summary prints ferry status, ferry history prod and the chat transcript.
func summary(ctx context.Context, out io.Writer, w *harness.World) error {
	for _, args := range [][]string{{"status"}, {"history", "prod"}} {
		fmt.Fprintf(out, "\n▶ $ ferry %s\n", strings.Join(args, " "))
		table, err := w.CLI(ctx, harness.Alice, args...)
		if err != nil {
			return err
		}
		fmt.Fprint(out, table)
	}
	fmt.Fprintf(out, "\n▶ the chat transcript (channel %s)\n", w.Channel)
	return w.PrintTranscript(out)
}

// keepRunning prints how to reach the running servers and waits for Ctrl-C.
func keepRunning(ctx context.Context, out io.Writer, w *harness.World) error {
	tokens := filepath.Join(w.Dir, "secrets", "api-tokens")
	fmt.Fprintf(out, `
▶ KEEP=1: everything keeps running until Ctrl-C. In another shell:

  # ferry's CLI (the token is read from the run's secret file, never printed)
  export FERRY_SERVER=%s
  export FERRY_TOKEN=$(awk '$2=="alice"{print $1}' %s)
  %s status
  %s history prod
  %s approve prod        # when a revision waits in prod

  # the cluster (kubectl, if installed)
  export KUBECONFIG=%s
  kubectl get pods -n vibecode-dev
  kubectl get secrets -n vibecode-production -l owner=helm --show-labels

  # a change through Git: clone the bare repository and push to it; ferry
  # polls main every %s
  git clone %s vibecode-platform && cd vibecode-platform
  $EDITOR helm/vibecode-platform/values-dev.yaml && git commit -am "dev: ..." && git push

  ferry's log: %s
`, w.APIURL, tokens, w.Binary, w.Binary, w.Binary, w.Cluster.Kubeconfig,
		w.Config.Pipelines[0].Source.Interval, w.Repo.Dir(), w.LogPath())
	stopChat := w.WatchChat(out, time.Second)
	defer stopChat()
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping ferry and the servers")
	if err := w.StopFerry(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop ferry: %w", err)
	}
	return nil
}
