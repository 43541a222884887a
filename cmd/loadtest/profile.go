package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
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

// profileService loads the profiled service and the bare reference once
// per path and returns the profile files (read them with
// `go tool pprof -top FILE`; compare with -diff_base).
func profileService(ctx context.Context, s settings, wrk string, wo wrkOptions, self string, bare procSpec, dbURL string, paths ...string) ([]string, error) {
	if err := os.MkdirAll(s.ProfileDir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, path := range paths {
		name := strings.Trim(strings.NewReplacer("/", "_", "?", "_", "=", "").Replace(path), "_")
		for _, who := range []string{"service", "bare"} {
			file, err := filepath.Abs(filepath.Join(s.ProfileDir, who+"-"+name+".pprof"))
			if err != nil {
				return nil, err
			}
			logf("profiling %s under load on %s -> %s", who, path, file)
			spec := procSpec{Name: "profiled service", Path: self, Args: []string{"profiled-server"},
				CPUs: s.ServerCPUs, Procs: s.GoMaxProcs, Extra: s.ServerEnv,
				Env: []string{"DATABASE_URL=" + dbURL, "AUTH_MODE=dev", "LOG_LEVEL=warn",
					"DB_MAX_CONNS=" + fmt.Sprint(s.DBMaxConns)}}
			ready := "/readyz"
			if who == "bare" {
				spec, ready = bare, "/healthz"
				spec.Env = append(slices.Clip(spec.Env), "DATABASE_URL="+dbURL)
			}
			spec.Env = append(slices.Clip(spec.Env), "LOADTEST_CPUPROFILE="+file)
			p, err := startProc(ctx, spec, ready)
			if err != nil {
				return nil, err
			}
			r, err := loadOnce(ctx, wrk, wo, p, path)
			if err != nil {
				_ = p.stop()
				return nil, err
			}
			logf("  %s: %d requests, %.0f req/s, CPU/req %s (divide profile totals by the request count to compare)",
				who, r.Requests, r.ReqPerSec, r.cpuPerRequest())
			if err := p.stop(); err != nil {
				return nil, err
			}
			out = append(out, file)
		}
	}
	return out, nil
}
