// Package pgtest gives tests a real PostgreSQL: a fresh database (or a
// database with an owner and an app role) per test on one server per test
// binary, started with internal/localpg, or TEST_DATABASE_URL's server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/localpg"
)

// shared is the one server of a test binary. Test binaries are processes of
// their own, so this is per package; Main stops it.
var shared struct {
	once  sync.Once
	admin string // URL of a database to run CREATE DATABASE on
	srv   *localpg.Server
	err   error
}

// Main runs a package's tests and stops the shared server afterwards:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return code
}

// AdminURL returns the URL of a server tests may create databases on:
// TEST_DATABASE_URL when set, else a throwaway server started once per test
// binary. It fails the test (never skips) when no server can be had.
func AdminURL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			shared.admin = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared.srv, shared.err = localpg.Start(ctx, localpg.Options{})
		if shared.err == nil {
			shared.admin = shared.srv.URL("postgres")
		}
	})
	if shared.err != nil {
		t.Fatalf("pgtest: no PostgreSQL for tests: %v", shared.err)
	}
	return shared.admin
}

// NewDatabase creates an empty database for one test and drops it when the
// test ends. Tests using it can run in parallel.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	name := "test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := execSQL(ctx, admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: admin URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func execSQL(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
