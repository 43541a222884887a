package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/web"
)

type healthBody struct {
	Status        string         `json:"status"`
	Version       string         `json:"version"`
	Commit        string         `json:"commit"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Database      database.State `json:"database"`
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
	checker := database.NewChecker(pool.Ping, 2*time.Second, slog.New(slog.DiscardHandler))
	deps := web.Deps{
		Items: items.NewStore(pool), Health: checker,
		Authn:  auth.Dev{User: auth.User{Name: "alice"}},
		Logger: slog.New(slog.DiscardHandler), Build: buildinfo.Info{Version: "v9", Commit: "c"},
	}
	h, err := web.NewHandler(deps)
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{t: t, handler: checked(t, h)}

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

// /healthz reuses its encoded answer within a second, but never past a
// change of the database state: a check that finds the database up shows
// at once, not a second later.
func TestHealthzCachedBodyFollowsDatabaseState(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	var before, after healthBody
	a.do("GET", "/healthz", "", "").decode(t, &before)
	if before.Status != "degraded" || before.Database.Status != "unknown" {
		t.Fatalf("before any check: %+v", before)
	}
	a.checker.Check(context.Background())
	a.do("GET", "/healthz", "", "").decode(t, &after)
	if after.Status != "ok" || after.Database.Status != "up" || after.Database.CheckedAt.IsZero() {
		t.Fatalf("after a check: %+v", after)
	}
	if after.UptimeSeconds < 0 || after.UptimeSeconds != float64(int64(after.UptimeSeconds)) {
		t.Errorf("uptime_seconds = %v, want whole seconds", after.UptimeSeconds)
	}
}

// Through a real net/http server every JSON answer has a Content-Length,
// small ones (set by net/http) and a page of items larger than its buffer
// (set by the handler) alike, over HTTP/1.1 and h2c: none goes out chunked.
func TestJSONAnswersHaveContentLength(t *testing.T) {
	t.Parallel()
	a := newApp(t, nil)
	long := strings.Repeat("a long description ", 100)
	for i := range 20 {
		if _, err := a.store.Create(context.Background(), items.Input{Name: "item " + strconv.Itoa(i), Description: long}, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	// HTTP/1.1 and unencrypted HTTP/2, as cmd/server serves both.
	srv := httptest.NewUnstartedServer(a.handler)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		if proto == "HTTP/2.0" {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		client := &http.Client{Transport: tr}
		for _, path := range []string{"/healthz", "/api/items?limit=1", "/api/items?limit=20", "/api/items/999999", "/readyz"} {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Proto != proto || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) > 0 {
				t.Errorf("%s %s: Content-Length %d, Transfer-Encoding %v, body %d bytes", resp.Proto, path, resp.ContentLength, resp.TransferEncoding, len(body))
			}
			if path == "/api/items?limit=20" && len(body) <= 4096 {
				t.Errorf("%s: body %d bytes, want more than net/http buffers", path, len(body))
			}
		}
		tr.CloseIdleConnections()
	}
}
