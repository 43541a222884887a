// Command bare is the load test's reference: what a hand-written service
// with no framework, no middleware and no configuration does, using
// net/http, pgxpool and encoding/json only. cmd/loadtest builds it and runs
// it under the same CPU limits as the real server, so the ratio of the two
// is the cost of everything the real service adds. It listens on
// 127.0.0.1:$PORT and reads DATABASE_URL and DB_MAX_CONNS.
package main

import (
	"context"
	"encoding/base64"
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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// baselineQuery is the real store's first-page query.
const baselineQuery = `SELECT id, name, description, created_by, created_at, updated_by, updated_at, version FROM items ORDER BY created_at DESC, id DESC LIMIT 51`

type bareItem struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedBy   string    `json:"updated_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

type bareHealth struct {
	Status        string    `json:"status"`
	Version       string    `json:"version"`
	Commit        string    `json:"commit"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	Database      struct {
		Status    string    `json:"status"`
		CheckedAt time.Time `json:"checked_at"`
		LatencyMS float64   `json:"latency_ms"`
		Since     time.Time `json:"since"`
		Migrated  bool      `json:"migrated"`
	} `json:"database"`
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

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := bareHealth{Status: "ok", Version: "baseline", Commit: "0000000000000000000000000000000000000000",
			StartedAt: started.UTC(), UptimeSeconds: int64(time.Since(started) / time.Second)}
		h.Database.Status, h.Database.Migrated = "up", true
		h.Database.CheckedAt, h.Database.LatencyMS, h.Database.Since = started.UTC(), 0.42, started.UTC()
		writeBareJSON(w, h)
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		rows, err := pool.Query(r.Context(), baselineQuery)
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bareItem, error) {
			var it bareItem
			err := row.Scan(&it.ID, &it.Name, &it.Description, &it.CreatedBy, &it.CreatedAt, &it.UpdatedBy, &it.UpdatedAt, &it.Version)
			return it, err
		})
		if err != nil {
			http.Error(w, "database error", http.StatusInternalServerError)
			return
		}
		resp := struct {
			Items      []bareItem `json:"items"`
			NextCursor string     `json:"next_cursor,omitempty"`
		}{Items: list}
		if len(list) > 50 {
			last := list[49]
			resp.Items = list[:50]
			resp.NextCursor = base64.RawURLEncoding.EncodeToString(
				[]byte(strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(last.ID, 10)))
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
