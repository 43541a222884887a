package main_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The pipeline's migration step: applies the schema, is safe to repeat, and
// fails with a clear message when the database cannot be reached.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/migrate")
	url := pgtest.NewDatabase(t)
	for run := range 2 {
		p := proctest.Start(t, bin, "DATABASE_URL="+url)
		if code := p.Wait(t, time.Minute); code != 0 {
			t.Fatalf("run %d: exit code %d\n%s", run, code, p.Output())
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("items table missing after migrate: %v", err)
	}

	p := proctest.Start(t, bin, "DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if code := p.Wait(t, time.Minute); code != 1 {
		t.Fatalf("unreachable database: exit code %d, want 1", code)
	}
	if !strings.Contains(p.Output(), "migrate:") || !strings.Contains(p.Output(), "connect") {
		t.Fatalf("unclear error:\n%s", p.Output())
	}
	p = proctest.Start(t, bin)
	if code := p.Wait(t, time.Minute); code != 1 || !strings.Contains(p.Output(), "DATABASE_URL") {
		t.Fatalf("no configuration: exit %d\n%s", code, p.Output())
	}
}
