package web_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/health"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/web"
)

type healthBody struct {
	Status        string       `json:"status"`
	Version       string       `json:"version"`
	Commit        string       `json:"commit"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Database      health.State `json:"database"`
}

func TestHealthzWithDatabaseUp(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	a.checker.Check(context.Background())
	var h healthBody
	r := a.do("GET", "/healthz", "", "")
	r.decode(t, &h)
	if r.StatusCode != 200 || h.Status != "ok" || h.Version != "v1.2.3" || h.Commit != "abc123" || h.Database.Status != "up" || !h.Database.Migrated {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.body)
	}
	if r := a.do("GET", "/readyz", "", ""); r.StatusCode != 200 {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}
}

// With PostgreSQL unreachable the process still answers /healthz 200
// (reporting the database down), /readyz 503, and the API 503 without
// leaking driver errors.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@"+addr+"/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	checker := health.NewChecker(pool.Ping, 2*time.Second, slog.New(slog.DiscardHandler))
	deps := web.Deps{
		Items: items.NewStore(pool), Health: checker,
		Authn:  auth.Dev{User: auth.User{Name: "alice"}},
		Logger: slog.New(slog.DiscardHandler), Build: buildinfo.Info{Version: "v9", Commit: "c"},
	}
	h, err := web.NewApp(deps)
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{t: t, handler: h}

	start := time.Now()
	r := a.do("GET", "/healthz", "", "")
	if time.Since(start) > time.Second {
		t.Errorf("healthz waited on the database")
	}
	var body healthBody
	r.decode(t, &body)
	if r.StatusCode != 200 || body.Status != "degraded" || body.Database.Status != "unknown" {
		t.Fatalf("healthz before a check: %d %s", r.StatusCode, r.body)
	}

	r = a.do("GET", "/readyz", "", "")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz: %d %s", r.StatusCode, r.body)
	}
	r = a.do("GET", "/healthz", "", "")
	r.decode(t, &body)
	if r.StatusCode != 200 || body.Database.Status != "down" {
		t.Fatalf("healthz after a failed check: %d %s", r.StatusCode, r.body)
	}

	p := wantProblem(t, a.json("GET", "/api/items", ""), http.StatusServiceUnavailable, "database-unavailable")
	if p.Detail != "The database cannot be reached; try again shortly." {
		t.Fatalf("detail = %q", p.Detail)
	}
	wantProblem(t, a.json("POST", "/api/items", `{"name":"x"}`), http.StatusServiceUnavailable, "database-unavailable")
	wantHTML(t, a.do("GET", "/", "", ""), http.StatusServiceUnavailable, "cannot reach its database")

	hz, err := web.NewHealthz(deps)
	if err != nil {
		t.Fatal(err)
	}
	(&testApp{t: t, handler: hz}).do("GET", "/any/path", "", "").decode(t, &body)
	if body.Database.Status != "down" || body.Version != "v9" {
		t.Fatalf("healthz function: %+v", body)
	}
}
