package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"

	"example.com/example-function/internal/server"
)

// runProfiledServer is cmd/server's main with a CPU profile around it: the
// same server.Main, so the profile shows the real service's costs. It runs
// as this binary with the argument "profiled-server"; the profile goes to
// $LOADTEST_CPUPROFILE and is complete once the process exits on SIGTERM.
func runProfiledServer() error {
	f, err := os.Create(os.Getenv("LOADTEST_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return server.Main(ctx, os.LookupEnv, os.Stdout)
}

// profileService loads the profiled service once per path and returns the
// profile files (read them with `go tool pprof -top BINARY FILE`).
func profileService(ctx context.Context, s settings, wrk string, wo wrkOptions, self, dbURL string, paths ...string) ([]string, error) {
	if err := os.MkdirAll(s.ProfileDir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, path := range paths {
		name := strings.Trim(strings.NewReplacer("/", "_", "?", "_", "=", "").Replace(path), "_")
		file, err := filepath.Abs(filepath.Join(s.ProfileDir, name+".pprof"))
		if err != nil {
			return nil, err
		}
		logf("profiling the service under load on %s -> %s", path, file)
		p, err := startProc(ctx, procSpec{Name: "profiled service", Path: self, Args: []string{"profiled-server"},
			CPUs: s.ServerCPUs, Procs: s.GoMaxProcs,
			Env: []string{"LOADTEST_CPUPROFILE=" + file, "DATABASE_URL=" + dbURL, "AUTH_MODE=dev", "LOG_LEVEL=warn",
				"DB_MAX_CONNS=" + fmt.Sprint(s.DBMaxConns)}}, "/readyz")
		if err != nil {
			return nil, err
		}
		if _, err := loadOnce(ctx, wrk, wo, p, path); err != nil {
			_ = p.stop()
			return nil, err
		}
		if err := p.stop(); err != nil {
			return nil, err
		}
		out = append(out, file)
	}
	return out, nil
}
