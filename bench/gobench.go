package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GoBench is one `go test -bench` invocation of the module's benchmarks.
type GoBench struct {
	// Package is the import path pattern (./deploy).
	Package string
	// Pattern is the -bench regular expression.
	Pattern string
	// Benchtime is -benchtime (1x, 20x).
	Benchtime string
	// Short passes -short: the package's TestMain then starts no cluster,
	// for benchmarks that need none.
	Short bool
	// Timeout is go test's -timeout.
	Timeout time.Duration
}

// GoBenchResult is the metrics each benchmark reported, by benchmark name
// (the -N GOMAXPROCS suffix removed) then unit; "ns/op" included.
type GoBenchResult struct {
	Package string                        `json:"package"`
	Command string                        `json:"command"`
	Seconds float64                       `json:"seconds"`
	Metrics map[string]map[string]float64 `json:"metrics"`
	Err     string                        `json:"error,omitempty"`
}

// Run runs the benchmarks in dir (the module root), their output streamed
// to progress, and parses the result lines.
func (g GoBench) Run(ctx context.Context, dir string, progress io.Writer) GoBenchResult {
	args := []string{"test", "-run", "^$", "-bench", g.Pattern, "-benchtime", g.Benchtime, "-count", "1"}
	if g.Short {
		args = append(args, "-short")
	}
	if g.Timeout > 0 {
		args = append(args, "-timeout", g.Timeout.String())
	}
	args = append(args, g.Package)
	res := GoBenchResult{Package: g.Package, Command: "go " + strings.Join(args, " "), Metrics: map[string]map[string]float64{}}
	fmt.Fprintf(progress, "gobench: %s\n", res.Command)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	w := io.MultiWriter(&out, prefixWriter{progress, ""})
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	err := cmd.Run()
	res.Seconds = time.Since(start).Seconds()
	res.Metrics = ParseBenchOutput(out.String())
	if err != nil {
		res.Err = fmt.Sprintf("%v: %s", err, lastLines(out.String(), 8))
	}
	return res
}

// ParseBenchOutput reads the result lines of `go test -bench` output:
// "BenchmarkName-2  N  v1 unit1  v2 unit2 ...".
func ParseBenchOutput(out string) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	s := bufio.NewScanner(strings.NewReader(out))
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
		res[name] = m
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
