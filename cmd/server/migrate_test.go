package main_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

// `server migrate` is the release's migration job: it applies the schema as
// the owner, is safe to repeat, and fails with a clear message when the
// database cannot be reached or nothing is configured.
func TestMigrateSubcommand(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	url := pgtest.NewDatabase(t)
	for run := range 2 {
		p := proctest.StartArgs(t, bin, []string{"migrate"}, "DATABASE_URL="+url)
		if code := p.Wait(t, time.Minute); code != 0 {
			t.Fatalf("run %d: exit code %d\n%s", run, code, p.Output())
		}
		if !strings.Contains(p.Output(), "database migrations applied") {
			t.Fatalf("run %d: no confirmation logged:\n%s", run, p.Output())
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if v, err := database.SchemaVersion(context.Background(), conn); err != nil || v != database.LatestVersion() {
		t.Fatalf("schema version %d, %v after migrate; want %d", v, err, database.LatestVersion())
	}

	p := proctest.StartArgs(t, bin, []string{"migrate"}, "DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if code := p.Wait(t, time.Minute); code != 1 {
		t.Fatalf("unreachable database: exit code %d, want 1", code)
	}
	if !strings.Contains(p.Output(), "server:") || !strings.Contains(p.Output(), "connect") {
		t.Fatalf("unclear error:\n%s", p.Output())
	}
	p = proctest.StartArgs(t, bin, []string{"migrate"})
	if code := p.Wait(t, time.Minute); code != 1 || !strings.Contains(p.Output(), "DATABASE_URL") {
		t.Fatalf("no configuration: exit %d\n%s", code, p.Output())
	}
}

// Two roles end to end: a server running as the app role (DB_MIGRATE=false,
// as in production) is not ready until the job has migrated the schema,
// becomes ready without a restart once it has, and serves the API.
func TestServiceAsAppRoleIsReadyOnlyOnceMigrated(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	r := pgtest.NewRoles(t)
	srv := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+r.AppURL, "DB_MIGRATE=false")...)
	srv.WaitHTTP(t, "/healthz", 200, 10*time.Second)
	var ready struct {
		Ready    bool
		Database struct {
			Migrated      bool
			SchemaVersion int32 `json:"schema_version"`
			SchemaWanted  int32 `json:"schema_wanted"`
		}
	}
	getJSON(t, srv.URL("/readyz"), http.StatusServiceUnavailable, &ready)
	if ready.Ready || ready.Database.Migrated || ready.Database.SchemaWanted != database.LatestVersion() {
		t.Fatalf("/readyz before migrating: %+v", ready)
	}

	job := proctest.StartArgs(t, bin, []string{"migrate"}, "DATABASE_URL="+r.OwnerURL, "DB_APP_ROLE="+r.App)
	if code := job.Wait(t, time.Minute); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, job.Output())
	}
	srv.WaitHTTP(t, "/readyz", 200, 15*time.Second)
	getJSON(t, srv.URL("/readyz"), http.StatusOK, &ready)
	if !ready.Ready || ready.Database.SchemaVersion != database.LatestVersion() {
		t.Fatalf("/readyz after migrating: %+v", ready)
	}
	if res := post(t, srv.URL("/api/items"), `{"name":"as the app role"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/items as the app role: %d", res.StatusCode)
	}
	var page struct{ Items []struct{ Name string } }
	getJSON(t, srv.URL("/api/items"), http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].Name != "as the app role" {
		t.Fatalf("GET /api/items: %+v", page)
	}
}
