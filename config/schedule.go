package config

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones are checked and used wherever ferry runs, even without system zoneinfo

	"github.com/robfig/cron/v3"
)

// ParseSchedule reads a promotion window schedule: five cron fields,
// optionally prefixed with CRON_TZ=<zone> or TZ=<zone>. It rejects what
// robfig/cron would accept silently (an empty zone, meaning UTC) or panic on
// (a zone with no fields).
func ParseSchedule(s string) (sched cron.Schedule, err error) {
	spec := strings.TrimSpace(s)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		prefix, rest, _ := strings.Cut(spec, " ")
		_, zone, _ := strings.Cut(prefix, "=")
		if zone == "" {
			return nil, fmt.Errorf("schedule %q names no time zone after %s; write e.g. CRON_TZ=Europe/Berlin, or drop the prefix for UTC", s, prefix)
		}
		if _, err := time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("schedule %q: unknown time zone %q", s, zone)
		}
		if strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("schedule %q has a time zone but no cron fields; write e.g. %q", s, prefix+" 0 9 * * 1-5")
		}
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("schedule %q cannot be parsed", s)
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", s, err)
	}
	return sched, nil
}
