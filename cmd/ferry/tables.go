package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-gitops/ferry"
)

// newTable returns a writer that aligns tab-separated columns with three
// spaces between them; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
}

// printStatusTable prints one row per environment: pipeline, env,
// revision, phase, since (an age) and what a waiting promotion needs.
func printStatusTable(w io.Writer, sts []ferry.EnvironmentStatus, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "PIPELINE\tENV\tREVISION\tPHASE\tSINCE\tWAITING FOR")
	for _, st := range sts {
		rev := st.Current.Short()
		if st.Active != nil && st.Active.Revision.SHA != st.Current.SHA {
			rev += " → " + st.Active.Revision.Short()
		}
		phase := string(st.Phase)
		if l := st.Last; l != nil && l.Revision.SHA != st.Current.SHA {
			// The environment still runs Current: say whose phase this is.
			phase += " (" + l.Revision.Short() + ")"
		}
		waiting := st.WaitingFor
		if st.Paused {
			waiting = strings.TrimSuffix("paused; "+waiting, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", st.Pipeline, st.Environment, dash(rev), dash(phase), age(st.Since, now), dash(waiting))
	}
	return tw.Flush()
}

// printHistoryTable prints one row per promotion, newest first, with its
// gates and their figures.
func printHistoryTable(w io.Writer, proms []ferry.Promotion, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tREVISION\tPHASE\tSTARTED\tACTOR\tGATES")
	for _, p := range proms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, dash(p.Revision.Short()), p.Phase, age(p.Created, now), dash(p.Actor), dash(gateSummary(p.Gates)))
	}
	return tw.Flush()
}

// gateSummary is "health Passed (ready 4/4, took 42s); approval Pending".
func gateSummary(gates []ferry.GateResult) string {
	parts := make([]string, 0, len(gates))
	for _, g := range gates {
		s := g.Gate + " " + string(g.Verdict)
		if len(g.Figures) > 0 {
			figs := make([]string, 0, len(g.Figures))
			for _, f := range g.Figures {
				figs = append(figs, f.Name+" "+f.Value)
			}
			s += " (" + strings.Join(figs, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// age says how long ago t was, in the two largest units ("3h12m", "2d4h",
// "45s"); "-" for a zero time.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	days, hours, mins, secs := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case days > 0:
		return units(days, "d", hours, "h")
	case hours > 0:
		return units(hours, "h", mins, "m")
	case mins > 0:
		return units(mins, "m", secs, "s")
	}
	return fmt.Sprintf("%ds", secs)
}

// units writes a larger and a smaller unit, leaving out a zero smaller one.
func units(a int, ua string, b int, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
}

// dash stands in for an empty cell, so columns stay readable.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
