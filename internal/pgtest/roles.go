package pgtest

import (
	"context"
	"net/url"
	"testing"
	"time"
)

// Roles is an empty database owned by a role of its own, plus a separate
// login role for the service: the two-role set-up of a release (the owner
// migrates, the app role only reads and writes rows).
type Roles struct {
	Database string
	Owner    string // role that owns the database and runs migrations
	App      string // role the service connects as; no privileges yet
	OwnerURL string
	AppURL   string
}

// NewRoles creates the roles and the database for one test and drops them
// when it ends. Roles get random passwords, so it also works against a
// TEST_DATABASE_URL server that does not trust local logins.
func NewRoles(t testing.TB) Roles {
	t.Helper()
	admin := AdminURL(t)
	suffix := randomHex(6)
	r := Roles{Database: "test_" + suffix, Owner: "owner_" + suffix, App: "app_" + suffix}
	ownerPW, appPW := randomHex(12), randomHex(12)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, sql := range []string{
		"CREATE ROLE " + r.Owner + " LOGIN PASSWORD '" + ownerPW + "'",
		"CREATE ROLE " + r.App + " LOGIN PASSWORD '" + appPW + "'",
	} {
		if err := execSQL(ctx, admin, sql); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	// Registered first, so it runs after the database is gone.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, admin, "DROP ROLE IF EXISTS "+r.App+", "+r.Owner); err != nil {
			t.Errorf("pgtest: drop roles: %v", err)
		}
	})
	if err := execSQL(ctx, admin, "CREATE DATABASE "+r.Database+" OWNER "+r.Owner); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, admin, "DROP DATABASE IF EXISTS "+r.Database+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", r.Database, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: admin URL: %v", err)
	}
	u.Path = "/" + r.Database
	u.User = url.UserPassword(r.Owner, ownerPW)
	r.OwnerURL = u.String()
	u.User = url.UserPassword(r.App, appPW)
	r.AppURL = u.String()
	return r
}
