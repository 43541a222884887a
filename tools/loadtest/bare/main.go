// Command bare is the load test's reference: what a hand-written service
// with no framework, no middleware and no configuration does, using
// net/http, pgxpool and encoding/json around the domain's own store and
// types (package items). tools/loadtest builds it and runs it under the
// same CPU limits as the real server, so the ratio of the two is the cost
// of everything the real service adds around the domain. It listens on
// 127.0.0.1:$PORT and reads DATABASE_URL and DB_MAX_CONNS.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
)

// bareHealth has the fields of the service's /healthz answer, so both
// bodies have the same shape and size.
type bareHealth struct {
	Status        string         `json:"status"`
	Version       string         `json:"version"`
	Commit        string         `json:"commit"`
	StartedAt     time.Time      `json:"started_at"`
	UptimeSeconds int64          `json:"uptime_seconds"`
	Database      database.State `json:"database"`
}

// bareList is the body of the service's GET /api/items.
type bareList struct {
	Items      []items.Item `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func main() {
	// The load test's -profile sets this to compare with the service's
	// profile; the file is complete once the process exits on SIGTERM.
	if path := os.Getenv("LOADTEST_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bare:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

// run serves GET /healthz and GET /api/items until SIGTERM.
func run() error {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("baseline: DATABASE_URL: %w", err)
	}
	if n, err := strconv.Atoi(os.Getenv("DB_MAX_CONNS")); err == nil {
		cfg.MaxConns = int32(n)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("baseline: pool: %w", err)
	}
	defer pool.Close()
	started := time.Now()

	store := items.NewStore(pool)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := bareHealth{Status: "ok", Version: "baseline", Commit: "0000000000000000000000000000000000000000",
			StartedAt: started.UTC(), UptimeSeconds: int64(time.Since(started) / time.Second)}
		h.Database = database.State{Status: "up", CheckedAt: started.UTC(), LatencyMS: 0.42, Since: started.UTC(), Migrated: true}
		writeBareJSON(w, h)
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit < 1 {
			http.Error(w, "limit must be a positive number", http.StatusBadRequest)
			return
		}
		list, next, err := store.List(r.Context(), items.Page{Limit: limit})
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		resp := bareList{Items: list}
		if next != nil {
			resp.NextCursor = next.Encode()
		}
		writeBareJSON(w, resp)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: mux}
	// Exit cleanly on SIGTERM, as the load test stops every server.
	sig, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-sig.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeBareJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
