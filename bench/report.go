package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdicts of a figure against its goal.
const (
	Met         = "met"
	Missed      = "MISSED"
	NotMeasured = "NOT MEASURED"
	NoGoal      = "—"
)

// Figure is one row of the table.
type Figure struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Reference string `json:"reference"`
	Goal      string `json:"goal"`
	Verdict   string `json:"verdict"`
	// Note says what the value is made of, or why it is missing.
	Note string `json:"note,omitempty"`
}

// Host describes the machine the run was on.
type Host struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpuModel"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	Go        string  `json:"go"`
	Commit    string  `json:"commit"`
	// LoadAverage is /proc/loadavg's 1-minute figure at the start and at
	// the end of the run: other work on the machine skews every figure.
	LoadStart float64 `json:"loadAverageStart"`
	LoadEnd   float64 `json:"loadAverageEnd"`
}

// Results is everything one `make bench` run measured.
type Results struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Budget  string    `json:"budget"`
	Host    Host      `json:"host"`
	// Figures are the table's rows.
	Figures []Figure `json:"figures"`

	GoBench  []GoBenchResult `json:"goBenchmarks"`
	E2E      *E2EResult      `json:"e2e,omitempty"`
	E2EError string          `json:"e2eError,omitempty"`
	Scale    []ScaleResult   `json:"scale"`
	// ScaleSkipped says, per size not run, why.
	ScaleSkipped map[int]string `json:"scaleSkipped,omitempty"`
}

// ReadHost reads what the run's machine is.
func ReadHost(moduleDir string) Host {
	h := Host{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAverage()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kib, err := parseKiB(rest); err == nil {
					h.MemoryGiB = math.Round(float64(kib)/(1<<20)*10) / 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = moduleDir
	if out, err := cmd.Output(); err == nil {
		h.Commit = strings.TrimSpace(string(out))
	}
	return h
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}

// WriteJSON writes the results to path.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// PrintTable writes the figures as one table, then the notes.
func (r *Results) PrintTable(out io.Writer) {
	fmt.Fprintf(out, "\nferry benchmarks — %s, %d CPUs (%s), %.1f GiB, Linux %s, %s, commit %s; load average %.1f at start, %.1f at end; %s of a %s budget\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Host.CPUs, r.Host.CPUModel, r.Host.MemoryGiB, r.Host.Kernel, r.Host.Go, r.Host.Commit,
		r.Host.LoadStart, r.Host.LoadEnd, (time.Duration(r.Seconds) * time.Second).String(), r.Budget)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tfigure\tmeasured\treference (same run)\tgoal\tverdict")
	fmt.Fprintln(tw, "-\t------\t--------\t--------------------\t----\t-------")
	for i, f := range r.Figures {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, f.Name, f.Value, f.Reference, f.Goal, f.Verdict)
	}
	tw.Flush()
	fmt.Fprintln(out)
	for i, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(out, "[%d] %s: %s\n", i+1, f.Name, f.Note)
		}
	}
}
