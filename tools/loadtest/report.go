package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// startupTarget is the median exec-to-first-200 the service should reach with
// its database unreachable (the Functions Framework's package initialisation,
// which cmd/server pays since it serves the registered functions, included).
const startupTarget = 30 * time.Millisecond

func printReport(w io.Writer, r *report) {
	s := r.S
	fmt.Fprintf(w, "\nMachine: %s\n", describeMachine())
	fmt.Fprintf(w, "Layout: servers on CPUs %s with GOMAXPROCS=%d; wrk -t%d -c%d on CPUs %s; PostgreSQL on CPUs %s; DB_MAX_CONNS=%d\n",
		cpus(s.ServerCPUs), s.GoMaxProcs, s.Threads, s.Connections, cpus(s.LoadCPUs), cpus(s.DBCPUs), s.DBMaxConns)
	if len(s.ServerEnv) > 0 {
		fmt.Fprintf(w, "Extra server environment (both sides): %s\n", strings.Join(s.ServerEnv, " "))
	}
	fmt.Fprintf(w, "Rounds: %d fresh pairs of servers (started in alternating order), each %d x %s per server in alternating order after %s warm-up; medians shown\n\n",
		s.Restarts, s.Rounds, s.Duration, s.Warmup)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tsubject\treq/s\tp50\tp99\tCPU/req\treference\treq/s\tp50\tp99\tCPU/req\tratio\t95% CI\trounds' range\tCPU ratio\ttarget\tresult")
	for _, c := range r.Comparisons {
		if len(c.pairedRatios()) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t>= %.2f\tNOT MEASURED\n", c.Name, c.Subject, c.Reference, c.Target)
			continue
		}
		ratio, pr := c.ratio(), c.pairedRatios()
		lo, hi := medianCI(byRestart(pr, c.Restart))
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.2f-%.2f\t%.2f-%.2f\t%s\t%s\t%s\n",
			c.Name, c.Subject, median(rps(c.Sub)), medDur(c.Sub, p50), medDur(c.Sub, p99), us(median(cpuPerReq(c.Sub))),
			c.Reference, median(rps(c.Ref)), medDur(c.Ref, p50), medDur(c.Ref, p99), us(median(cpuPerReq(c.Ref))),
			ratioText(c, ratio), lo, hi, slices.Min(pr), slices.Max(pr), ratioText(c, c.cpuRatio()), targetText(c), verdictFor(c, ratio, lo, hi))
	}
	tw.Flush()
	printTogether(w, r)
	if r.Startup != nil {
		st, ref := r.Startup, r.StartupBare
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "exec-to-first-200 on /healthz, database unreachable\truns\tmedian\tp90\tmax\ttarget\tresult")
		for _, x := range []struct {
			name string
			res  *startupResult
		}{{"service", st}, {"bare net/http", ref}} {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t", x.name, len(x.res.Runs),
				ms(percentile(x.res.Runs, 50)), ms(percentile(x.res.Runs, 90)), ms(percentile(x.res.Runs, 100)))
			if x.res == st {
				fmt.Fprintf(tw, "< %s\t%s\n", startupTarget, verdict(percentile(st.Runs, 50) < startupTarget))
			} else {
				fmt.Fprintln(tw, "\t")
			}
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	for _, c := range r.Comparisons {
		if len(c.Sub) > 0 {
			fmt.Fprintf(w, "%s rounds, req/s: %s %s | %s %s | bodies %d vs %d bytes%s\n", c.Name,
				c.Subject, joinRPS(c.Sub), c.Reference, joinRPS(c.Ref), c.SubBytes, c.RefBytes, sockErrs(c))
			fmt.Fprintf(w, "%s (%s vs %s), median ratio per pair of processes: alternating %s; both at once (CPU) %s\n", c.Name,
				c.Subject, c.Reference, joinMedians(byRestart(c.pairedRatios(), c.Restart)),
				joinMedians(byRestart(c.togetherCPURatio(), c.TogetherRestart)))
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
		fmt.Fprintf(w, "exec-to-first-200 runs (service, %d): %s; /healthz reported the database %q\n", len(parts), strings.Join(parts, " "), r.Startup.DBStatus)
	}
	for _, p := range r.Profiles {
		fmt.Fprintf(w, "CPU profile: %s\n", p)
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintln(w, "Read with: go tool pprof -top -cum FILE; compare: go tool pprof -top -diff_base BARE SERVICE")
	}
	fmt.Fprintln(w, "\nratio: median over rounds of subject req/s / reference req/s in the same round (the target applies to it);")
	fmt.Fprintln(w, "95% CI: bootstrap confidence interval of that median, resampling the pairs of processes and their")
	fmt.Fprintln(w, "rounds; \"narrowly\" when it contains the target.")
	fmt.Fprintln(w, "rounds' range: the lowest and highest of those per-round ratios. CPU ratio: median over rounds of")
	fmt.Fprintln(w, "reference / subject server CPU time per request (/proc), the ratio the two would reach with a CPU each.")
	fmt.Fprintln(w, "Both loaded at once: CPU ratio is the median over rounds of reference / subject CPU per request")
	fmt.Fprintln(w, "measured in the same seconds; it is immune to the machine changing speed between rounds. Servers busy:")
	fmt.Fprintln(w, "the CPUs both servers used together per second of the round (median); near the number of server")
	fmt.Fprintln(w, "CPUs means the load kept them saturated, as the CPU ratio assumes; below 0.9 of them the result says")
	fmt.Fprintln(w, "\"servers not saturated?\" (too little load, or a VM that lost CPU time to its host).")
	fmt.Fprintln(w, "Targets are reported, not asserted.")
}

// printTogether reports the simultaneous rounds: both servers on the same
// CPU at once, so each second of a slow or fast machine is shared. The
// CPU ratio (per-request CPU of each, from /proc, paired by round) is then
// the throughput ratio with a CPU each.
func printTogether(w io.Writer, r *report) {
	var any bool
	for _, c := range r.Comparisons {
		any = any || len(c.togetherCPURatio()) > 0
	}
	if !any {
		return
	}
	where := "sharing the server CPUs " + cpus(r.S.ServerCPUs)
	if len(r.S.ServerCPUs) == 0 {
		where = "unpinned"
	}
	fmt.Fprintf(w, "\nBoth loaded at once, %s: %d pairs x %d x %s\n\n", where, r.S.Restarts, r.S.Together, r.S.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tsubject\treq/s\tCPU/req\treference\treq/s\tCPU/req\tservers busy\tCPU ratio\t95% CI\trounds' range\ttarget\tresult")
	for _, c := range r.Comparisons {
		cr := c.togetherCPURatio()
		if len(cr) == 0 {
			continue
		}
		ratio := median(cr)
		lo, hi := medianCI(byRestart(cr, c.TogetherRestart))
		busy := median(c.busy())
		result := verdictFor(c, ratio, lo, hi)
		if n := len(r.S.ServerCPUs); n > 0 && busy < 0.9*float64(n) {
			// The CPU ratio assumes both servers kept their CPUs busy.
			result += " (servers not saturated?)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t%.2f\t%s\t%.2f-%.2f\t%.2f-%.2f\t%s\t%s\n",
			c.Name, c.Subject, median(rps(c.SubTogether)), us(median(cpuPerReq(c.SubTogether))),
			c.Reference, median(rps(c.RefTogether)), us(median(cpuPerReq(c.RefTogether))),
			busy, ratioText(c, ratio), lo, hi, slices.Min(cr), slices.Max(cr), targetText(c), result)
	}
	tw.Flush()
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

func us(ns float64) string { return fmt.Sprintf("%.0fµs", ns/1e3) }

func joinRPS(rs []wrkResult) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.0f", r.ReqPerSec))
	}
	return strings.Join(parts, " ")
}

func joinMedians(groups [][]float64) string {
	if len(groups) == 0 {
		return "-"
	}
	var parts []string
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%.2f", median(g)))
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

// ratioText shows a third decimal when the ratio is within 0.01 of the
// target, where two would round a miss up to the target.
func ratioText(c comparison, r float64) string {
	if c.Target > 0 && math.Abs(r-c.Target) < 0.01 {
		return fmt.Sprintf("%.3f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

func targetText(c comparison) string {
	if c.Target == 0 {
		return "-"
	}
	return fmt.Sprintf(">= %.2f", c.Target)
}

// verdictFor judges the median ratio against the target, and says
// "narrowly" when the target lies inside the 95 % interval [lo, hi]:
// another run of as many rounds could have come out the other way.
func verdictFor(c comparison, ratio, lo, hi float64) string {
	if c.Target == 0 {
		return "(A/A: 1.00 expected)"
	}
	v := verdict(ratio >= c.Target)
	if lo < c.Target && c.Target <= hi {
		v += ", narrowly"
	}
	return v
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
