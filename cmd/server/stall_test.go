package main_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

// The real binary, configured with DB_REQUEST_TIMEOUT=300ms, answers API
// and page requests 503 database-timeout within the deadline plus 2 s while
// the items table is locked, keeps /healthz 200, and serves again once the
// lock goes, without a restart.
func TestBinaryAnswersInTimeWhileTheDatabaseStalls(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	dbURL := pgtest.NewDatabase(t)
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+dbURL, "DB_REQUEST_TIMEOUT=300ms")...)
	p.WaitHTTP(t, "/readyz", 200, 30*time.Second)
	if res := post(t, p.URL("/api/items"), `{"name":"lamp"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST before the stall: %d", res.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	locker, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	if _, err := locker.Exec(ctx, "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/items", "/api/items?q=lamp", "/"} {
		start := time.Now()
		res, err := http.Get(p.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || took > 2300*time.Millisecond {
			t.Errorf("GET %s under the lock: %d, Retry-After %q, after %s", path, res.StatusCode, res.Header.Get("Retry-After"), took)
		}
		if strings.HasPrefix(path, "/api/") && !strings.Contains(string(body), "database-timeout") {
			t.Errorf("GET %s under the lock: %s, want a database-timeout problem", path, body)
		}
	}
	if res, err := http.Get(p.URL("/healthz")); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz under the lock: %v %v", res, err)
	}
	p.WantOutput(t, `"database timeout"`, 5*time.Second)
	if _, err := locker.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(p.URL("/api/items?q=lamp"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET after the lock: %d", res.StatusCode)
	}
}
