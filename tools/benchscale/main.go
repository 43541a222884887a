// Command benchscale measures name search, pages and inserts at a million
// items in a real PostgreSQL, at the store and over HTTP, and compares the
// medians with the targets in docs/performance.md. `make bench-scale` runs
// it (not CI: loading and indexing the rows takes minutes). Targets are
// reported, not asserted: the exit status is non-zero only when the
// measurement itself failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/localpg"
	"example.com/example-function/internal/web"
)

type settings struct {
	Rows       int
	Runs       int
	Warmup     int
	URL        string // an existing server's admin URL; empty starts one
	FastUpdate bool
	Keep       bool
}

func main() {
	var s settings
	fs := flag.NewFlagSet("benchscale", flag.ContinueOnError)
	fs.IntVar(&s.Rows, "rows", 1_000_000, "items to generate")
	fs.IntVar(&s.Runs, "runs", 25, "timed runs per measurement (the median of these is reported)")
	fs.IntVar(&s.Warmup, "warmup", 3, "untimed runs per measurement first")
	fs.StringVar(&s.URL, "admin-url", "", "PostgreSQL URL to create the benchmark database on (default: start a throwaway server)")
	fs.BoolVar(&s.Keep, "keep", false, "keep the benchmark database (with -admin-url) and print its URL, for EXPLAIN and psql")
	fs.BoolVar(&s.FastUpdate, "fastupdate", false, "build the trigram index with fastupdate = on instead of the migration's off (for comparison)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if s.Runs < 20 {
		fmt.Fprintln(os.Stderr, "benchscale: -runs must be at least 20")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, s settings, out io.Writer) error {
	admin := s.URL
	if admin == "" {
		// Cloud SQL gives shared_buffers a third of the instance's memory
		// (docs/performance.md): 512MB is a 1.5 GB instance's, and holds the
		// million items and their indexes, as a production database would.
		fmt.Fprintln(out, "starting a throwaway PostgreSQL (shared_buffers = 512MB) ...")
		srv, err := localpg.Start(ctx, localpg.Options{Settings: map[string]string{"shared_buffers": "512MB"}})
		if err != nil {
			return err
		}
		defer srv.Stop()
		admin = srv.URL("postgres")
	}
	dbURL, drop, err := createDatabase(ctx, admin)
	if err != nil {
		return err
	}
	if s.Keep && s.URL != "" {
		fmt.Fprintln(out, "keeping the database:", dbURL)
	} else {
		defer drop()
	}

	db, err := database.Open(ctx, config.Database{
		URL: dbURL, MaxConns: 4, ConnectTimeout: 5 * time.Second,
		MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Hour, HealthCheckPeriod: time.Minute,
		RequestTimeout: config.DefaultRequestTimeout,
	})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := database.Migrate(ctx, db.Pool); err != nil {
		return err
	}
	load, err := generate(ctx, db, s, out)
	if err != nil {
		return err
	}

	store := items.NewStore(db.Pool)
	base, closeHTTP, err := serve(db, store)
	if err != nil {
		return err
	}
	defer closeHTTP()

	ms, done, err := plan(ctx, db, store, load)
	if err != nil {
		return err
	}
	defer done()
	if err := measure(ctx, ms, base, s, out); err != nil {
		return err
	}
	report(out, ms, s, load, machine(ctx, db))
	return nil
}

// serve runs the service's handler, as the app builds it, on a loopback
// port: the same middleware, deadline and encoding as production.
func serve(db *database.DB, store *items.Store) (string, func(), error) {
	logger := slog.New(slog.DiscardHandler)
	checker := database.NewChecker(db.Pool.Ping, time.Second, logger)
	checker.SetMigrated()
	h, err := web.NewHandler(web.Deps{
		Items: store, Health: checker, Logger: logger,
		Authn:           auth.Dev{User: auth.User{Name: "bench"}},
		DatabaseTimeout: config.DefaultRequestTimeout,
	})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// machineInfo describes where the figures were measured.
type machineInfo struct {
	CPU, OS, Postgres string
	CPUs              int
}

func machine(ctx context.Context, db *database.DB) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m.OS += ", Debian " + strings.TrimSpace(string(b))
	}
	_ = db.Pool.QueryRow(ctx, "SHOW server_version").Scan(&m.Postgres)
	return m
}
