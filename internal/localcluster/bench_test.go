package localcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// BenchmarkLocalClusterStart measures, with the binaries already cached, the
// seconds from Start to a ready control plane with Ready nodes, and the summed
// resident memory of its processes after it has sat idle for a while (etcd's
// and the API server's caches settle in the first seconds).
func BenchmarkLocalClusterStart(b *testing.B) {
	ctx := context.Background()
	if _, err := localcluster.EnsureBinaries(ctx, io.Discard); err != nil {
		b.Fatal(err)
	}
	var startSec, rssMiB float64
	for b.Loop() {
		began := time.Now()
		c, err := localcluster.Start(ctx, localcluster.Options{})
		if err != nil {
			b.Fatal(err)
		}
		startSec += time.Since(began).Seconds()
		b.StopTimer()
		time.Sleep(10 * time.Second)
		total, err := summedRSS(c.PIDs())
		if err != nil {
			c.Stop()
			b.Fatal(err)
		}
		rssMiB += float64(total) / (1 << 20)
		c.Stop()
		b.StartTimer()
	}
	b.ReportMetric(startSec/float64(b.N), "start-s/op")
	b.ReportMetric(rssMiB/float64(b.N), "idle-rss-MiB")
	b.ReportMetric(0, "ns/op")
}

// summedRSS adds up VmRSS of the given processes, read from /proc.
func summedRSS(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		kib, err := vmRSS(pid)
		if err != nil {
			return 0, err
		}
		total += kib * 1024
	}
	return total, nil
}

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("pid %d: unexpected VmRSS line %q", pid, s.Text())
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("pid %d: no VmRSS in /proc status", pid)
}
