package deploy

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkRender renders the 30-template bench chart in-process and, in the
// same run, with `helm template` (the reference binary, process start
// included, as a user of helm would see it), and reports both and the
// ratio. Wall time suffers when the machine is shared, so CPU time per
// render (from getrusage) is reported beside it.
func BenchmarkRender(b *testing.B) {
	c := renderCase{chart: "charts/bench", release: "bench", namespace: "bench"}
	benchAgainstHelm(b, func() error {
		_, err := helmTemplate(b, c.helmArgs()...)
		return err
	}, func() error {
		_, err := c.render(b)
		return err
	})
}

// benchAgainstHelm times 10 runs of helm, then render in b's loop, and
// reports both per render, wall and CPU (the children's for helm, the
// process's own for render), with the ratios.
func benchAgainstHelm(b *testing.B, helm, render func() error) {
	const helmRuns = 10
	childCPU := cpuTime(syscall.RUSAGE_CHILDREN)
	start := time.Now()
	for range helmRuns {
		if err := helm(); err != nil {
			b.Fatal(err)
		}
	}
	helmMs := ms(time.Since(start)) / helmRuns
	helmCPUMs := ms(cpuTime(syscall.RUSAGE_CHILDREN)-childCPU) / helmRuns

	selfCPU := cpuTime(syscall.RUSAGE_SELF)
	b.ResetTimer()
	for b.Loop() {
		if err := render(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	wall := ms(b.Elapsed()) / n
	cpu := ms(cpuTime(syscall.RUSAGE_SELF)-selfCPU) / n
	b.ReportMetric(wall, "ms/render")
	b.ReportMetric(cpu, "cpu-ms/render")
	b.ReportMetric(helmMs, "helm-ms/render")
	b.ReportMetric(helmCPUMs, "helm-cpu-ms/render")
	b.ReportMetric(helmMs/wall, "x-faster")
	b.ReportMetric(helmCPUMs/cpu, "x-less-cpu")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuTime is user plus system CPU time of this process or its waited-for children.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
