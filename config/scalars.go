package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of events per unit of time, written "50/s" or "600/m".
// Its fields match vegeta.Rate's, so the load-test gate converts it directly.
type Rate struct {
	Freq int
	Per  time.Duration
}

// String writes the rate the way ferry.yaml does.
func (r Rate) String() string {
	unit := "s"
	if r.Per == time.Minute {
		unit = "m"
	}
	return strconv.Itoa(r.Freq) + "/" + unit
}

// PerSecond is the rate as events per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// MarshalYAML writes the rate as text, so a saved config reads back the same.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// ParseRate reads "N/s" or "N/m" with N a positive integer.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute}[unit]
	n, err := strconv.Atoi(num)
	if !ok || per == 0 || err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("%q is not a rate; use N/s, N/m", s)
	}
	return Rate{Freq: n, Per: per}, nil
}

// Percent is a percentage written "99%" or "99.5%", held as 99 or 99.5.
type Percent float64

// Fraction is the percentage as a fraction of one (99% is 0.99).
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// String writes the percentage the way ferry.yaml does.
func (p Percent) String() string {
	return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%"
}

// MarshalYAML writes the percentage as text, so a saved config reads back the same.
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// ParsePercent reads "N%" with 0 <= N <= 100.
func ParsePercent(s string) (Percent, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || f < 0 || f > 100 || num != strings.TrimSpace(num) {
		return 0, fmt.Errorf("%q is not a percentage; use N%% with N from 0 to 100, e.g. 99.5%%", s)
	}
	return Percent(f), nil
}

// parseDuration reads a Go duration ("30s", "1m30s") that is not negative.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration; use e.g. 500ms, 30s, 5m, 1h30m", s)
	}
	return d, nil
}
