package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"example.com/example-function/internal/database"
)

type healthResponse struct {
	// Status is "ok", or "degraded" while the database is unavailable: the
	// process itself still serves, so the answer stays 200.
	Status        string         `json:"status"`
	Version       string         `json:"version"`
	Commit        string         `json:"commit"`
	StartedAt     time.Time      `json:"started_at"`
	UptimeSeconds int64          `json:"uptime_seconds"`
	Database      database.State `json:"database"`
}

// healthEntry is an encoded /healthz body and what it was encoded from.
// The body only changes when the uptime ticks over a second or the database
// state changes, so healthz serves it again until then instead of encoding
// the same JSON for every probe.
type healthEntry struct {
	uptime int64
	db     database.State
	body   []byte
}

// healthz reports the process and the cached database state. It never
// waits on the database and answers 200 whenever the process can serve.
func (s *site) healthz(w http.ResponseWriter, r *http.Request) {
	db := database.State{Status: "unknown"}
	if s.Health != nil {
		db = s.Health.State()
	}
	uptime := int64(time.Since(s.Started) / time.Second)
	e := s.lastHealth.Load()
	// == on State compares values (strings, numbers, times): a false
	// mismatch only costs an encoding. Keep State free of pointers, or a
	// changed state behind an unchanged pointer would be served stale.
	if e == nil || e.uptime != uptime || e.db != db {
		status := "ok"
		if db.Status != "up" {
			status = "degraded"
		}
		body, err := json.Marshal(healthResponse{
			Status:        status,
			Version:       s.Build.Version,
			Commit:        s.Build.Commit,
			StartedAt:     s.Started.UTC(),
			UptimeSeconds: uptime,
			Database:      db,
		})
		if err != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		e = &healthEntry{uptime: uptime, db: db, body: append(body, '\n')}
		s.lastHealth.Store(e)
	}
	writeBody(w, http.StatusOK, jsonType, e.body)
}

// readyz answers 503 until the database is reachable and migrated, so a
// load balancer or a deploy smoke test can wait for a working instance.
// It answers within DatabaseTimeout: a check (ping, and the pool acquire in
// it) still running then counts as failed.
func (s *site) readyz(w http.ResponseWriter, r *http.Request) {
	db := database.State{Status: "unknown"}
	answered := true
	if s.Health != nil {
		ctx := r.Context()
		if s.DatabaseTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.DatabaseTimeout)
			defer cancel()
		}
		db = s.Health.Check(ctx)
		answered = ctx.Err() == nil
	}
	ready := answered && db.Status == "up" && db.Migrated
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	s.writeJSON(w, status, struct {
		Ready    bool           `json:"ready"`
		Database database.State `json:"database"`
	}{ready, db})
}
