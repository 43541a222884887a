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

	"example.com/example-function/function"
	"example.com/example-function/internal/service"
)

// runProfiledServer is cmd/server's main with a CPU profile around it: the
// same service.Run, so the profile shows the real service's costs. It runs
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
	return service.Run(ctx, os.LookupEnv, os.Stdout, function.Target)
}

// profileTarget is one server to profile under load on one path.
type profileTarget struct {
	who, path string
	spec      procSpec
	ready     string
}

// profileService loads the profiled service and the bare reference once
// per path (and the service with OTLP export on /api/items when otlpURL is
// set) and returns the profile files (read them with `go tool pprof -top
// FILE`; divide by the logged request counts to compare).
func profileService(ctx context.Context, s settings, wrk string, wo wrkOptions, self string, bare procSpec, dbURL, otlpURL string, paths ...string) ([]string, error) {
	if err := os.MkdirAll(s.ProfileDir, 0o755); err != nil {
		return nil, err
	}
	service := procSpec{Name: "profiled service", Path: self, Args: []string{"profiled-server"},
		CPUs: s.ServerCPUs, Procs: s.GoMaxProcs, Extra: s.ServerEnv,
		Env: []string{"DATABASE_URL=" + dbURL, "AUTH_MODE=dev",
			"DB_MAX_CONNS=" + fmt.Sprint(s.DBMaxConns)}}
	bare.Env = append(slices.Clip(bare.Env), "DATABASE_URL="+dbURL)
	var targets []profileTarget
	for _, path := range paths {
		targets = append(targets, profileTarget{"service", path, service, "/readyz"}, profileTarget{"bare", path, bare, "/healthz"})
		if otlpURL != "" && strings.HasPrefix(path, "/api/") {
			on := service
			on.Env = append(slices.Clip(on.Env), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlpURL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
			targets = append(targets, profileTarget{"service-otlp", path, on, "/readyz"})
		}
	}
	var out []string
	for _, t := range targets {
		name := strings.Trim(strings.NewReplacer("/", "_", "?", "_", "=", "").Replace(t.path), "_")
		file, err := filepath.Abs(filepath.Join(s.ProfileDir, t.who+"-"+name+".pprof"))
		if err != nil {
			return nil, err
		}
		logf("profiling %s under load on %s -> %s", t.who, t.path, file)
		spec := t.spec
		spec.Env = append(slices.Clip(spec.Env), "LOADTEST_CPUPROFILE="+file)
		p, err := startProc(ctx, spec, t.ready)
		if err != nil {
			return nil, err
		}
		r, err := loadOnce(ctx, wrk, wo, p, t.path)
		if err != nil {
			_ = p.stop()
			return nil, err
		}
		logf("  %s: %d requests, %.0f req/s, CPU/req %s", t.who, r.Requests, r.ReqPerSec, r.cpuPerRequest())
		if err := p.stop(); err != nil {
			return nil, err
		}
		out = append(out, file)
	}
	return out, nil
}
