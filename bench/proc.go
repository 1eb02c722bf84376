package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcStats is what /proc says about one process at one moment.
type ProcStats struct {
	// RSS is the resident set now (VmRSS); PeakRSS the highest it has been
	// since the process started (VmHWM), both in bytes.
	RSS, PeakRSS int64
	// AnonRSS and FileRSS split RSS into anonymous memory (heap, stacks)
	// and pages of mapped files (the executable's code and data) (RssAnon
	// and RssFile, in bytes).
	AnonRSS, FileRSS int64
	// CPU is user plus system time the process has used.
	CPU time.Duration
}

// clockTicks is the kernel's USER_HZ, the unit of the CPU times in
// /proc/PID/stat; it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ReadProc reads the memory and CPU figures of process pid from /proc.
func ReadProc(pid int) (ProcStats, error) {
	var st ProcStats
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	defer f.Close()
	found := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		for _, field := range []struct {
			prefix string
			into   *int64
		}{{"VmRSS:", &st.RSS}, {"VmHWM:", &st.PeakRSS}, {"RssAnon:", &st.AnonRSS}, {"RssFile:", &st.FileRSS}} {
			rest, ok := strings.CutPrefix(s.Text(), field.prefix)
			if !ok {
				continue
			}
			kib, err := parseKiB(rest)
			if err != nil {
				return st, fmt.Errorf("pid %d: %s %w", pid, field.prefix, err)
			}
			*field.into = kib << 10
			found++
		}
	}
	if err := s.Err(); err != nil {
		return st, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	if found != 4 {
		return st, fmt.Errorf("pid %d: VmRSS, VmHWM, RssAnon or RssFile missing from /proc status", pid)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	if st.CPU, err = parseStatCPU(string(stat)); err != nil {
		return st, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// parseKiB reads the value of a /proc status line such as "  1234 kB".
func parseKiB(s string) (int64, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("unexpected value %q", strings.TrimSpace(s))
	}
	return strconv.ParseInt(fields[0], 10, 64)
}

// parseStatCPU sums utime and stime, fields 14 and 15 of /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat %q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time in /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
