package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func printReport(w io.Writer, r *report) {
	s := r.S
	fmt.Fprintf(w, "\nMachine: %s\n", describeMachine())
	fmt.Fprintf(w, "Layout: servers on CPUs %s with GOMAXPROCS=%d; wrk -t%d -c%d on CPUs %s; PostgreSQL unpinned; DB_MAX_CONNS=%d\n",
		cpus(s.ServerCPUs), s.GoMaxProcs, s.Threads, s.Connections, cpus(s.LoadCPUs), s.DBMaxConns)
	fmt.Fprintf(w, "Rounds: %d x %s per server, alternating order, after %s warm-up; medians shown\n\n", s.Rounds, s.Duration, s.Warmup)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tsubject\treq/s\tp50\tp99\treference\treq/s\tp50\tp99\tratio\ttarget\tresult")
	for _, c := range r.Comparisons {
		if len(c.Sub) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\t-\t-\t-\t-\t>= %.2f\tNOT MEASURED\n", c.Name, c.Subject, c.Reference, c.Target)
			continue
		}
		ratio := c.ratio()
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%.0f\t%s\t%s\t%.2f\t>= %.2f\t%s\n",
			c.Name, c.Subject, median(rps(c.Sub)), medDur(c.Sub, p50), medDur(c.Sub, p99),
			c.Reference, median(rps(c.Ref)), medDur(c.Ref, p50), medDur(c.Ref, p99),
			ratio, c.Target, verdict(ratio >= c.Target))
	}
	if r.Startup != nil {
		st := r.Startup
		fmt.Fprintf(tw, "exec-to-first-200 /healthz, DB unreachable\tservice\tmedian %s\tp90 %s\tmax %s\t(%d runs)\t\t\t\t\t< 20ms\t%s\n",
			ms(percentile(st.Runs, 50)), ms(percentile(st.Runs, 90)), ms(percentile(st.Runs, 100)), len(st.Runs),
			verdict(percentile(st.Runs, 50) < 20*time.Millisecond))
	}
	tw.Flush()

	fmt.Fprintln(w)
	for _, c := range r.Comparisons {
		if len(c.Sub) > 0 {
			fmt.Fprintf(w, "%s rounds, req/s: %s %s | %s %s | bodies %d vs %d bytes%s\n", c.Name,
				c.Subject, joinRPS(c.Sub), c.Reference, joinRPS(c.Ref), c.SubBytes, c.RefBytes, sockErrs(c))
		}
		if c.Note != "" {
			fmt.Fprintf(w, "%s (%s vs %s): %s\n", c.Name, c.Subject, c.Reference, c.Note)
		}
	}
	if r.Startup != nil {
		var parts []string
		for _, d := range r.Startup.Runs {
			parts = append(parts, ms(d))
		}
		fmt.Fprintf(w, "exec-to-first-200 runs: %s; /healthz reported the database %q\n", strings.Join(parts, " "), r.Startup.DBStatus)
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "CPU profile: %s (go tool pprof -top %s)\n", p, p)
	}
	fmt.Fprintln(w, "\nTargets are reported, not asserted.")
}

func p50(r wrkResult) time.Duration { return r.P50 }
func p99(r wrkResult) time.Duration { return r.P99 }

func medDur(rs []wrkResult, f func(wrkResult) time.Duration) string {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = float64(f(r))
	}
	return ms(time.Duration(median(xs)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func joinRPS(rs []wrkResult) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.0f", r.ReqPerSec))
	}
	return strings.Join(parts, " ")
}

func sockErrs(c comparison) string {
	var n int64
	for _, r := range append(append([]wrkResult(nil), c.Sub...), c.Ref...) {
		n += r.SocketErrors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" | %d wrk socket errors", n)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func cpus(cs []int) string {
	if len(cs) == 0 {
		return "any"
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprint(c))
	}
	return strings.Join(parts, ",")
}
