package web

import (
	"math"
	"net/http"
	"time"

	"example.com/example-function/internal/health"
)

type healthResponse struct {
	// Status is "ok", or "degraded" while the database is unavailable: the
	// process itself still serves, so the answer stays 200.
	Status        string       `json:"status"`
	Version       string       `json:"version"`
	Commit        string       `json:"commit"`
	StartedAt     time.Time    `json:"started_at"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Database      health.State `json:"database"`
}

// healthz reports the process and the cached database state. It never
// waits on the database and answers 200 whenever the process can serve.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	db := health.State{Status: "unknown"}
	if s.Health != nil {
		db = s.Health.State()
	}
	status := "ok"
	if db.Status != "up" {
		status = "degraded"
	}
	uptime := time.Since(s.Started).Seconds()
	writeJSON(w, http.StatusOK, healthResponse{
		Status:        status,
		Version:       s.Build.Version,
		Commit:        s.Build.Commit,
		StartedAt:     s.Started.UTC(),
		UptimeSeconds: math.Round(uptime*1000) / 1000,
		Database:      db,
	})
}

// readyz answers 503 until the database is reachable and migrated, so a
// load balancer or a deploy smoke test can wait for a working instance.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	db := health.State{Status: "unknown"}
	if s.Health != nil {
		db = s.Health.Check(r.Context())
	}
	ready := db.Status == "up" && db.Migrated
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, struct {
		Ready    bool         `json:"ready"`
		Database health.State `json:"database"`
	}{ready, db})
}
