package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"example.com/example-function/internal/localpg"
)

// comparison is one subject-versus-reference throughput measurement.
type comparison struct {
	Name      string
	Subject   string
	Reference string
	Target    float64 // minimum subject/reference ratio; 0: none (A/A)
	Sub, Ref  []wrkResult
	// Together are rounds in which both were loaded at once, sharing the
	// server CPU: whatever the machine does then, it does to both.
	SubTogether, RefTogether []wrkResult
	// Restart and TogetherRestart say which pair of processes (see
	// settings.Restarts) measured each round.
	Restart, TogetherRestart []int
	SubBytes                 int // response body size, a check that both answer alike
	RefBytes                 int
	Note                     string // set when the comparison could not be measured
}

// byRestart groups per-round values by the pair of processes that
// measured them (restart[i] for xs[i]).
func byRestart(xs []float64, restart []int) [][]float64 {
	var groups [][]float64
	for i, x := range xs {
		k := 0
		if i < len(restart) {
			k = restart[i]
		}
		for len(groups) <= k {
			groups = append(groups, nil)
		}
		groups[k] = append(groups[k], x)
	}
	return slices.DeleteFunc(groups, func(g []float64) bool { return len(g) == 0 })
}

// ratio is the median over rounds of the subject's req/s divided by the
// reference's in the same round. The two runs of a round are back to back,
// so a machine that speeds up or slows down between rounds (a shared VM
// does, by a third and more) moves both alike and the pair stays fair;
// the ratio of the two medians would mix rounds from different moments.
func (c comparison) ratio() float64 { return median(c.pairedRatios()) }

// pairedRatios is subject/reference req/s for each round.
func (c comparison) pairedRatios() []float64 {
	out := make([]float64, 0, len(c.Sub))
	for i := range min(len(c.Sub), len(c.Ref)) {
		if c.Ref[i].ReqPerSec > 0 {
			out = append(out, c.Sub[i].ReqPerSec/c.Ref[i].ReqPerSec)
		}
	}
	return out
}

// cpuRatio is the median over rounds of the reference's CPU per request
// over the subject's (server CPU time from /proc): the throughput ratio
// the two would reach on a CPU they had to themselves, paired by round
// like ratio.
func (c comparison) cpuRatio() float64 { return median(pairedCPURatios(c.Sub, c.Ref)) }

// togetherCPURatio is the same for the simultaneous rounds, both measured
// in the same seconds, without the drift that separates one round from
// the next on a shared machine.
func (c comparison) togetherCPURatio() []float64 {
	return pairedCPURatios(c.SubTogether, c.RefTogether)
}

func pairedCPURatios(sub, ref []wrkResult) []float64 {
	var out []float64
	for i := range min(len(sub), len(ref)) {
		if s := sub[i].cpuPerRequest(); s > 0 {
			out = append(out, float64(ref[i].cpuPerRequest())/float64(s))
		}
	}
	return out
}

// busy is the share of one CPU the two servers used together in each
// simultaneous round (each one's CPU time over the wall time of its own
// reading): about 1 (per server CPU) when the load kept them saturated, as
// the CPU ratio assumes. Well below, the servers waited on the load
// generator or the database, and fixed per-wakeup costs would pull the
// ratio toward 1.
func (c comparison) busy() []float64 {
	var out []float64
	for i := range min(len(c.SubTogether), len(c.RefTogether)) {
		out = append(out, share(c.SubTogether[i])+share(c.RefTogether[i]))
	}
	return out
}

func share(r wrkResult) float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.ServerCPU) / float64(r.Wall)
}

func cpuPerReq(rs []wrkResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = float64(r.cpuPerRequest())
	}
	return out
}

func rps(rs []wrkResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = r.ReqPerSec
	}
	return out
}

// report is everything measured, printed as the final table.
type report struct {
	S           settings
	Comparisons []comparison
	Startup     *startupResult
	StartupBare *startupResult
	StartupNote string
	Profiles    []string
}

func run(ctx context.Context, s settings) error {
	wrk, err := findWrk()
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	logf("building ./cmd/server and ./tools/loadtest/bare")
	bin, bareBin, err := build(ctx, root, tmp)
	if err != nil {
		return err
	}
	bareSpec := func(env ...string) procSpec {
		return procSpec{Name: "bare", Path: bareBin, CPUs: s.ServerCPUs, Procs: s.GoMaxProcs, Extra: s.ServerEnv,
			Env: append([]string{"DB_MAX_CONNS=" + strconv.Itoa(s.DBMaxConns)}, env...)}
	}
	rep := &report{S: s}
	wo := wrkOptions{Threads: s.Threads, Connections: s.Connections, Duration: s.Duration, CPUs: s.LoadCPUs}
	service := func(name string, env ...string) procSpec {
		return procSpec{Name: name, Path: bin, CPUs: s.ServerCPUs, Procs: s.GoMaxProcs, Extra: s.ServerEnv,
			Env: append([]string{"AUTH_MODE=dev", "DB_MAX_CONNS=" + strconv.Itoa(s.DBMaxConns)}, env...)}
	}

	if s.Only["startup"] {
		closed, err := localpg.FreePort() // nothing listens there once freePort returns
		if err != nil {
			return err
		}
		logf("exec-to-first-200 x%d, database unreachable", s.StartupRuns)
		unreachable := "DATABASE_URL=postgres://app@127.0.0.1:" + strconv.Itoa(closed) + "/app?sslmode=disable"
		res, err := measureStartup(ctx, service("service", unreachable), s.StartupRuns, s.LoadCPUs)
		if err != nil {
			return fmt.Errorf("startup: %w", err)
		}
		rep.Startup = &res
		ref, err := measureStartup(ctx, bareSpec(unreachable), s.StartupRuns, s.LoadCPUs)
		if err != nil {
			return fmt.Errorf("startup: %w", err)
		}
		rep.StartupBare = &ref
	}

	if s.Only["healthz"] || s.Only["items"] || s.Only["telemetry"] || s.Only["aa"] {
		if err := loadScenarios(ctx, s, rep, wrk, self, service, bareSpec, wo); err != nil {
			return err
		}
	}
	printReport(os.Stdout, rep)
	return nil
}

func loadScenarios(ctx context.Context, s settings, rep *report, wrk, self string,
	service func(string, ...string) procSpec, bareSpec func(...string) procSpec, wo wrkOptions) error {
	logf("starting PostgreSQL (pgtest)")
	pg, err := localpg.Start(ctx, localpg.Options{})
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pg.Stop()
	if n, err := pinChildren(os.Getpid(), "postgres", s.DBCPUs); err != nil {
		return err
	} else if len(s.DBCPUs) > 0 && n == 0 {
		return errors.New("found no postgres process to pin; use -db-cpus '' to leave it unpinned")
	}
	dbURL, err := prepareDatabase(ctx, pg, s.Rows)
	if err != nil {
		return err
	}

	svcSide := func(name string, env ...string) side {
		return side{service(name, append([]string{"DATABASE_URL=" + dbURL}, env...)...), "/readyz"}
	}
	bareSide := side{bareSpec("DATABASE_URL=" + dbURL), "/healthz"}
	if s.Only["healthz"] {
		c := comparison{Name: "GET /healthz", Subject: "service", Reference: "bare net/http", Target: 0.85}
		if err := measure(ctx, wrk, wo, s, &c, svcSide("service"), bareSide, "/healthz"); err != nil {
			return err
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	if s.Only["items"] {
		c := comparison{Name: "GET " + listPath, Subject: "service", Reference: "bare pgxpool+json", Target: 0.75}
		if err := measure(ctx, wrk, wo, s, &c, svcSide("service"), bareSide, listPath); err != nil {
			return err
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	if s.Only["aa"] {
		// Two copies of the service: how far the ratios stray from 1.00
		// shows how much this machine's noise moves each method.
		c := comparison{Name: "A/A GET " + listPath, Subject: "service", Reference: "its copy"} // no target
		if err := measure(ctx, wrk, wo, s, &c, svcSide("service"), svcSide("service (copy)"), listPath); err != nil {
			return err
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	if s.Only["telemetry"] {
		c, err := telemetryScenario(ctx, wrk, wo, s, svcSide, listPath)
		if err != nil {
			return err
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	if s.ProfileDir != "" {
		otlpURL := ""
		if s.Only["telemetry"] {
			sk, err := startSink()
			if err != nil {
				return err
			}
			defer sk.close()
			otlpURL = sk.URL
		}
		paths, err := profileService(ctx, s, wrk, wo, self, bareSpec(), dbURL, otlpURL, "/healthz", listPath)
		if err != nil {
			return err
		}
		rep.Profiles = paths
	}
	return nil
}

// telemetryScenario compares /api/items with OTLP export to a local
// discarding receiver against the same service with export off. It first
// checks the binary exports at all: before cmd/server sets up telemetry,
// the variable has no effect and there is nothing to compare.
func telemetryScenario(ctx context.Context, wrk string, wo wrkOptions, s settings,
	svcSide func(string, ...string) side, path string) (comparison, error) {
	c := comparison{Name: "GET " + path, Subject: "export on", Reference: "export off", Target: 0.90}
	sk, err := startSink()
	if err != nil {
		return c, err
	}
	defer sk.close()
	on := svcSide("service+otlp", "OTEL_EXPORTER_OTLP_ENDPOINT="+sk.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")

	logf("telemetry: probing whether cmd/server exports (20 requests, then SIGTERM flush)")
	probe, err := startProc(ctx, on.spec, on.ready)
	if err != nil {
		return c, err
	}
	for range 20 {
		if _, _, err := probe.get(path); err != nil {
			_ = probe.stop()
			return c, err
		}
	}
	if err := probe.stop(); err != nil {
		return c, err
	}
	if sk.traces.Load() == 0 {
		c.Note = fmt.Sprintf("not measured: cmd/server sent no spans to OTEL_EXPORTER_OTLP_ENDPOINT (%d exports received); telemetry is not wired into cmd/server at this commit", sk.exports())
		logf("telemetry: %s", c.Note)
		return c, nil
	}
	before := sk.exports()
	if err := measure(ctx, wrk, wo, s, &c, on, svcSide("service"), path); err != nil {
		return c, err
	}
	c.Note = fmt.Sprintf("%d OTLP exports (%d traces, %d metrics in total) received during the run, %.1f MB", sk.exports()-before,
		sk.traces.Load(), sk.metrics.Load(), float64(sk.bytes.Load())/1e6)
	return c, nil
}

// side is how to start one server of a comparison.
type side struct {
	spec  procSpec
	ready string // the path that answers 200 once it serves
}

// measure runs c on s.Restarts fresh pairs of processes, pooling their
// rounds; which of the two is started, warmed up and loaded first
// alternates from pair to pair, so that no side is systematically the
// older, the first warmed or the first loaded process. (The tool used to
// compare a fresh exporting process with the long-running service, warmed
// up in a fixed order; its alternating rounds then read export lower than
// any run since, for reasons an A/A test could not pin down.)
func measure(ctx context.Context, wrk string, wo wrkOptions, s settings, c *comparison, sub, ref side, path string) error {
	for k := range s.Restarts {
		first, second := ref, sub
		if k%2 == 1 {
			first, second = sub, ref
		}
		logf("%s: pair %d of %d, %s started first", c.Name, k+1, s.Restarts, first.spec.Name)
		a, err := startProc(ctx, first.spec, first.ready)
		if err != nil {
			return err
		}
		b, err := startProc(ctx, second.spec, second.ready)
		if err != nil {
			_ = a.stop()
			return err
		}
		subP, refP := b, a
		if k%2 == 1 {
			subP, refP = a, b
		}
		n, nt := len(c.Sub), len(c.SubTogether)
		err = compare(ctx, wrk, wo, s, c, subP, refP, k%2 == 0, path)
		for range len(c.Sub) - n {
			c.Restart = append(c.Restart, k)
		}
		for range len(c.SubTogether) - nt {
			c.TogetherRestart = append(c.TogetherRestart, k)
		}
		if err := errors.Join(err, a.stop(), b.stop()); err != nil {
			return err
		}
	}
	return nil
}

// compare warms both servers up (the reference first when refFirst), then
// runs the rounds, alternating which goes first (ABBA) so drift on a
// shared machine hits both alike, then the rounds with both loaded at once.
func compare(ctx context.Context, wrk string, wo wrkOptions, s settings, c *comparison, sub, ref *proc, refFirst bool, path string) error {
	var err error
	if _, c.SubBytes, err = checkOK(sub, path); err != nil {
		return err
	}
	if _, c.RefBytes, err = checkOK(ref, path); err != nil {
		return err
	}
	logf("%s: warm-up %s each", c.Name, s.Warmup)
	if s.Warmup > 0 {
		w := wo
		w.Duration = s.Warmup
		order := []*proc{sub, ref}
		if refFirst {
			order = []*proc{ref, sub}
		}
		for _, p := range order {
			if _, err := loadOnce(ctx, wrk, w, p, path); err != nil {
				return err
			}
		}
	}
	for i := range s.Rounds {
		order := []*proc{sub, ref}
		if !subGoesFirst(i, refFirst) {
			order = []*proc{ref, sub}
		}
		for _, p := range order {
			r, err := loadOnce(ctx, wrk, wo, p, path)
			if err != nil {
				return err
			}
			if p == sub {
				c.Sub = append(c.Sub, r)
			} else {
				c.Ref = append(c.Ref, r)
			}
			logf("%s: round %d %-18s %9.0f req/s  p50 %-8s p99 %-8s CPU/req %s", c.Name, i+1, label(c, p == sub), r.ReqPerSec, r.P50, r.P99, r.cpuPerRequest())
		}
	}
	for i := range s.Together {
		var rs, rr wrkResult
		var errS, errR error
		var wg sync.WaitGroup
		// Which wrk starts first alternates, like the order of the rounds.
		runs := []func(){
			func() { rs, errS = loadOnce(ctx, wrk, wo, sub, path) },
			func() { rr, errR = loadOnce(ctx, wrk, wo, ref, path) },
		}
		if !subGoesFirst(i, refFirst) {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, run := range runs {
			wg.Go(run)
		}
		wg.Wait()
		if err := errors.Join(errS, errR); err != nil {
			return err
		}
		c.SubTogether, c.RefTogether = append(c.SubTogether, rs), append(c.RefTogether, rr)
		logf("%s: together %d  %s %.0f req/s CPU/req %s | %s %.0f req/s CPU/req %s", c.Name, i+1,
			c.Subject, rs.ReqPerSec, rs.cpuPerRequest(), c.Reference, rr.ReqPerSec, rr.cpuPerRequest())
	}
	return nil
}

// subGoesFirst says whether the subject is loaded first in round i of a
// pair: rounds alternate, and the server warmed up first also goes first
// in round 0, so a pair in each order balances the rounds even when
// -rounds is odd.
func subGoesFirst(i int, refFirst bool) bool {
	if refFirst {
		i++
	}
	return i%2 == 0
}

func label(c *comparison, sub bool) string {
	if sub {
		return c.Subject
	}
	return c.Reference
}

func checkOK(p *proc, path string) (int, int, error) {
	status, n, err := p.get(path)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", p.name, path, err)
	}
	if status != 200 {
		return 0, 0, fmt.Errorf("%s %s: status %d, want 200\n%s", p.name, path, status, p.out.String())
	}
	return status, n, nil
}

func loadOnce(ctx context.Context, wrk string, wo wrkOptions, p *proc, path string) (wrkResult, error) {
	cpu0, err := p.cpuTime()
	if err != nil {
		return wrkResult{}, err
	}
	start := time.Now()
	r, err := runWrk(ctx, wrk, p.base+path, wo)
	if err != nil {
		return r, err
	}
	cpu1, err := p.cpuTime()
	if err != nil {
		return r, err
	}
	r.ServerCPU, r.Wall = cpu1-cpu0, time.Since(start)
	if r.Non2xx > 0 {
		return r, fmt.Errorf("%s %s: %d of %d responses were not 2xx; the measurement is void\n%s", p.name, path, r.Non2xx, r.Requests, p.out.String())
	}
	if r.Requests == 0 {
		return r, fmt.Errorf("%s %s: wrk completed no request", p.name, path)
	}
	return r, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func describeMachine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs (%s), %s/%s, load average at the end %s, host %s",
		runtime.Version(), runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, load, host)
}
