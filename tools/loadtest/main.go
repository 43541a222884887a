// Command loadtest measures the service against bare net/http baselines on
// this machine, in one run: /healthz and GET /api/items throughput (wrk),
// exec-to-first-200 with the database unreachable, and /api/items with
// telemetry export on versus off. Targets are reported, not asserted: the
// exit status is non-zero only when the measurement itself failed.
//
// `make bench` runs it; tools/loadtest/README.md explains the method and
// the results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/example-function/internal/buildinfo"
)

type settings struct {
	Duration    time.Duration
	Warmup      time.Duration
	Restarts    int
	Rounds      int
	Together    int
	Connections int
	Threads     int
	ServerCPUs  []int
	LoadCPUs    []int
	DBCPUs      []int
	GoMaxProcs  int
	DBMaxConns  int
	Rows        int
	StartupRuns int
	Only        map[string]bool
	ProfileDir  string
	ServerEnv   []string
}

// envList collects repeated -server-env flags.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "profiled-server" {
		if err := runProfiledServer(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	s, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	// This process runs the OTLP sink and the start-up poller: keep it off
	// the servers' CPUs, as wrk and PostgreSQL are, from before it starts
	// any other thread's work.
	if err := pinThreads(s.LoadCPUs); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.DurationVar(&s.Duration, "duration", 2*time.Second, "length of one measured wrk round (whole seconds)")
	fs.DurationVar(&s.Warmup, "warmup", time.Second, "unmeasured wrk run per server before the rounds (whole seconds; 0: none)")
	fs.IntVar(&s.Restarts, "restarts", 2, "fresh pairs of server processes per scenario, started in alternating order; the rounds below run on each")
	fs.IntVar(&s.Rounds, "rounds", 4, "measured rounds per server and pair; which server goes first alternates each round")
	fs.IntVar(&s.Together, "together", -1, "rounds per pair with service and reference loaded at once on the same server CPU (-1: as many as -rounds; 0: none)")
	fs.IntVar(&s.Connections, "c", 32, "wrk connections")
	fs.IntVar(&s.Threads, "t", 1, "wrk threads")
	serverCPUs := fs.String("server-cpus", "auto", `CPUs for the servers under test ("auto": 0 when the machine has 2+ CPUs; "": unpinned)`)
	loadCPUs := fs.String("load-cpus", "auto", `CPUs for wrk and the start-up poller ("auto": the rest; "": unpinned)`)
	dbCPUs := fs.String("db-cpus", "auto", `CPUs for PostgreSQL ("auto": the load CPUs, keeping the server's CPU to itself; "": unpinned)`)
	fs.IntVar(&s.GoMaxProcs, "gomaxprocs", 0, "GOMAXPROCS of the servers (0: the number of server CPUs)")
	fs.IntVar(&s.DBMaxConns, "db-max-conns", 4, "pool size of both the service (DB_MAX_CONNS) and the baseline")
	fs.IntVar(&s.Rows, "rows", 50, "rows seeded into items; /api/items is asked for limit=50")
	fs.IntVar(&s.StartupRuns, "startup-runs", 20, "exec-to-first-200 runs")
	only := fs.String("only", "startup,healthz,items,telemetry", `comma-separated scenarios to run; "aa" (not by default) compares the service with a copy of itself, to see this machine's noise`)
	fs.StringVar(&s.ProfileDir, "profile", "", "also write CPU profiles of the service and of the bare reference under each load to this directory")
	fs.Var((*envList)(&s.ServerEnv), "server-env", "NAME=VALUE added to the environment of every server, service and reference alike (repeatable; e.g. GOGC=200)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.Together == -1 {
		s.Together = s.Rounds
	}
	if s.Restarts < 1 || s.Rounds < 1 || s.Together < 0 || s.Duration <= 0 || s.Connections < 1 || s.Threads < 1 || s.StartupRuns < 1 {
		return s, errors.New("-restarts, -rounds, -duration, -c, -t and -startup-runs must be positive, -together at least -1")
	}
	s.Only = map[string]bool{}
	for _, o := range strings.Split(*only, ",") {
		o = strings.TrimSpace(o)
		switch o {
		case "startup", "healthz", "items", "telemetry", "aa":
			s.Only[o] = true
		case "":
		default:
			return s, fmt.Errorf("-only: unknown scenario %q", o)
		}
	}
	var err error
	n := runtime.NumCPU()
	if s.ServerCPUs, err = cpuList(*serverCPUs, []int{0}, n); err != nil {
		return s, fmt.Errorf("-server-cpus: %w", err)
	}
	rest := make([]int, 0, n)
	for c := 1; c < n; c++ {
		rest = append(rest, c)
	}
	if s.LoadCPUs, err = cpuList(*loadCPUs, rest, n); err != nil {
		return s, fmt.Errorf("-load-cpus: %w", err)
	}
	if s.DBCPUs, err = cpuList(*dbCPUs, s.LoadCPUs, n); err != nil {
		return s, fmt.Errorf("-db-cpus: %w", err)
	}
	if n < 2 && (*serverCPUs == "auto" || *loadCPUs == "auto") {
		s.ServerCPUs, s.LoadCPUs, s.DBCPUs = nil, nil, nil // one CPU: nothing to split
	}
	if s.GoMaxProcs == 0 {
		s.GoMaxProcs = len(s.ServerCPUs)
	}
	return s, nil
}

// cpuList parses "0,2-3"; "auto" gives def, "" gives nil (unpinned).
func cpuList(v string, def []int, ncpu int) ([]int, error) {
	if v == "auto" {
		return def, nil
	}
	var out []int
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU range %q", part)
			}
		}
		for c := a; c <= b; c++ {
			if c >= ncpu {
				return nil, fmt.Errorf("CPU %d does not exist (this machine has %d)", c, ncpu)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// moduleRoot finds the repository root (go.mod) so the tool works from any
// directory inside it.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run inside the example-function module")
	}
	return filepath.Dir(mod), nil
}

// build compiles the server and the bare reference the way `make build`
// does (static, trimmed, stamped) into dir.
func build(ctx context.Context, root, dir string) (server, bare string, err error) {
	commit := "unknown"
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	ldflags := "-s -w " + buildinfo.LinkFlag("Version", "loadtest") + " " + buildinfo.LinkFlag("Commit", commit)
	for _, p := range []struct{ pkg, out string }{{"./cmd/server", "server"}, {"./tools/loadtest/bare", "bare"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(dir, p.out), p.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", p.pkg, err, out)
		}
	}
	return filepath.Join(dir, "server"), filepath.Join(dir, "bare"), nil
}
