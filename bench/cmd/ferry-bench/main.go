// Command ferry-bench is `make bench`: it runs the module's go test
// benchmarks, the end-to-end figures on the fixture (internal/harness) and
// the scale runs (bench.Scale), all in one run, prints one table of issue
// 13's figures with their same-run references and goals, and writes
// bench/results/latest.json. It keeps to a time budget: scale sizes that
// cannot finish within it are not started, and the table says so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-gitops/ferry/bench"
	"github.com/ferry-gitops/ferry/internal/harness"
)

func main() {
	out := flag.String("out", "bench/results/latest.json", "where to write the results (relative to the module root)")
	budget := flag.Duration("budget", 18*time.Minute, "wall-clock budget of the whole run; scale sizes that would not finish within it are not started")
	only := flag.String("only", "gobench,e2e,scale", "parts to run: gobench, e2e, scale")
	scaleSizes := flag.String("scale", "100,500,1000", "environment counts of the scale runs, smallest first")
	workers := flag.Int("workers", 32, "ferry's timing.workers in the scale runs")
	pushes := flag.Int("pushes", 20, "pushes the webhook figure is taken over")
	idleWindow := flag.Duration("idle-window", 40*time.Second, "length of the idle window")
	idlePoll := flag.Duration("idle-poll", 2*time.Second, "branch poll interval during the idle window")
	binary := flag.String("binary", "", "ferry binary (default: build ./cmd/ferry)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, options{
		out: *out, budget: *budget, only: *only, scale: *scaleSizes, workers: *workers,
		pushes: *pushes, idleWindow: *idleWindow, idlePoll: *idlePoll, binary: *binary,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	out, only, scale, binary string
	budget, idleWindow       time.Duration
	idlePoll                 time.Duration
	workers, pushes          int
}

func run(ctx context.Context, o options) error {
	started := time.Now()
	deadline := started.Add(o.budget)
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	parts := map[string]bool{}
	for _, p := range strings.Split(o.only, ",") {
		parts[strings.TrimSpace(p)] = true
	}
	res := &bench.Results{Started: started, Budget: o.budget.String(), Host: bench.ReadHost(root)}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "ferry-bench [%s]: "+format+"\n", append([]any{time.Since(started).Round(time.Second)}, args...)...)
	}

	bin := o.binary
	if bin == "" && (parts["e2e"] || parts["scale"]) {
		dir, err := os.MkdirTemp("", "ferry-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		logf("building ferry")
		if bin, err = harness.BuildFerry(ctx, dir); err != nil {
			return err
		}
	}

	if parts["gobench"] {
		benches, err := goBenches(root)
		if err != nil {
			return err
		}
		for _, g := range benches {
			r := g.Run(ctx, root, os.Stderr)
			res.GoBench = append(res.GoBench, r)
			logf("%s: %.0f s", r.Command, r.Seconds)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if parts["e2e"] {
		logf("end to end on the fixture")
		e, err := bench.E2E(ctx, bench.E2EOptions{Binary: bin, Pushes: o.pushes, IdlePoll: o.idlePoll, IdleWindow: o.idleWindow, Progress: os.Stderr})
		res.E2E = &e
		if err != nil {
			res.E2EError = err.Error()
			logf("end to end failed: %v", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if parts["scale"] {
		sizes, err := parseSizes(o.scale)
		if err != nil {
			return err
		}
		res.ScaleSkipped = map[int]string{}
		// rate is environments per second of the last complete run, used to
		// judge whether the next size fits in what is left of the budget.
		var rate, overhead float64
		const reserve = 45 * time.Second // stopping ferry and the cluster, printing
		goal := time.Duration(bench.GoalScaleSeconds) * time.Second
		// A size that cannot finish within the budget still runs past the
		// goal's deadline when there is time for that (cut short): it shows,
		// measured, how far ferry gets by the deadline.
		cut := goal + time.Minute
		for _, n := range sizes {
			left := time.Until(deadline) - reserve
			timeout, why := left, ""
			if rate > 0 {
				need := time.Duration((overhead + float64(n)/rate) * float64(time.Second))
				if need > left {
					why = fmt.Sprintf("at the rate the %d-environment run reached (%.1f environments/s) it would need about %s, and %s of the %s budget was left",
						res.Scale[len(res.Scale)-1].Envs, rate, need.Round(time.Second), left.Round(time.Second), o.budget)
					timeout = cut
				}
			}
			if left < time.Minute || (why != "" && left < cut+time.Minute) {
				if why == "" {
					why = fmt.Sprintf("%s of the %s budget was left", left.Round(time.Second), o.budget)
				}
				res.ScaleSkipped[n] = "not started: " + why
				logf("scale %d: %s", n, res.ScaleSkipped[n])
				continue
			}
			if why != "" {
				logf("scale %d: %s; running it cut short at %s", n, why, cut)
			}
			logf("scale %d, %d workers, at most %s", n, o.workers, timeout.Round(time.Second))
			s, err := bench.Scale(ctx, bench.ScaleOptions{Envs: n, Workers: o.workers, Binary: bin, Timeout: timeout, Goal: goal, Progress: os.Stderr})
			if err != nil && s.Err == "" {
				s.Err = err.Error()
			}
			if why != "" {
				s.Err = fmt.Sprintf("cut short at %s by the budget (%s)", cut, why) + "; " + s.Err
			}
			res.Scale = append(res.Scale, s)
			if s.Err == "" && s.Seconds > 0 {
				rate, overhead = float64(n)/s.Seconds, s.ClusterStartSecond+15
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}

	res.Seconds = time.Since(started).Seconds()
	res.Host.LoadEnd = bench.ReadHost(root).LoadStart
	res.BuildFigures()
	res.PrintTable(os.Stdout)
	path := o.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := res.WriteJSON(path); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// planned are the go test runs whose benchmarks make the table's figures,
// with the iterations each needs; any other package with benchmarks runs
// them once each.
var planned = []bench.GoBench{
	// Render: no cluster (-short); enough renders for a steady mean.
	{Package: "./deploy", Pattern: "^BenchmarkRender", Benchtime: "30x", Short: true, Timeout: 5 * time.Minute},
	// Apply on the package's local cluster: 3 upgrades each of ferry and helm.
	{Package: "./deploy", Pattern: "^BenchmarkApplyFixtureDev$", Benchtime: "3x", Timeout: 10 * time.Minute},
	{Package: "./promote", Pattern: ".", Benchtime: "1x", Short: true, Timeout: 5 * time.Minute},
	{Package: "./gitsource", Pattern: ".", Benchtime: "5x", Short: true, Timeout: 5 * time.Minute},
	{Package: "./config", Pattern: ".", Benchtime: "100x", Short: true, Timeout: 5 * time.Minute},
	{Package: "./internal/localcluster", Pattern: ".", Benchtime: "1x", Short: true, Timeout: 5 * time.Minute},
}

// goBenches is planned, plus a run for each other package of the module
// that has benchmarks (found by reading its _test.go files, not by running
// its test binary, whose TestMain may start a cluster).
func goBenches(root string) ([]bench.GoBench, error) {
	covered := map[string]bool{}
	for _, g := range planned {
		covered[g.Package] = true
	}
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "\nfunc Benchmark") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			found["./"+filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := append([]bench.GoBench(nil), planned...)
	var extra []string
	for p := range found {
		if !covered[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		out = append(out, bench.GoBench{Package: p, Pattern: ".", Benchtime: "1x", Timeout: 10 * time.Minute})
	}
	return out, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the ferry module")
	}
	return filepath.Dir(gomod), nil
}
