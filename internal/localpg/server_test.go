package localpg_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/localpg"
)

func TestStartKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	if os.Getenv("TEST_DATABASE_URL") != "" {
		// Still must exercise Start: it is what `make run` relies on.
		t.Log("TEST_DATABASE_URL is set; starting an own server anyway")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "localpg-persist-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := dir + "/data"

	srv, err := localpg.Start(ctx, localpg.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, srv.URL("postgres"), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, err = localpg.Start(ctx, localpg.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil {
		t.Fatalf("data lost across restart: %v", err)
	}
	if x != 42 {
		t.Fatalf("got %d, want 42", x)
	}
}

func mustExec(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}
