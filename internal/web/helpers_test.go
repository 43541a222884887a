package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/dbtest"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/web"
)

// TestMain runs the tests with the API contract checked on every /api
// answer, then fails when a documented answer was never exercised
// (contract_test.go).
func TestMain(m *testing.M) { os.Exit(contractMain(m, pgtest.Main)) }

type testApp struct {
	t       testing.TB
	handler http.Handler
	pool    *pgxpool.Pool
	store   *items.Store
	checker *database.Checker
}

// newApp serves the real handler on a fresh migrated database, signed in
// as "alice" unless authn says otherwise.
func newApp(t testing.TB, authn auth.Authenticator) *testApp {
	t.Helper()
	pool := dbtest.NewPool(t)
	if authn == nil {
		authn = auth.Dev{User: auth.User{Name: "alice", Groups: []string{"editors"}}}
	}
	checker := database.NewChecker(pool.Ping, 2*time.Second, slog.New(slog.DiscardHandler))
	checker.SetMigrated()
	store := items.NewStore(pool)
	h, err := web.NewHandler(web.Deps{
		Items: store, Health: checker, Authn: authn,
		DatabaseTimeout: 5 * time.Second,
		Logger:          slog.New(slog.DiscardHandler),
		Build:           buildinfo.Info{Version: "v1.2.3", Commit: "abc123"},
		Started:         time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testApp{t: t, handler: checked(t, h), pool: pool, store: store, checker: checker}
}

type response struct {
	*http.Response
	body string
}

// do sends one request through the handler.
func (a *testApp) do(method, target, contentType, body string, headers ...string) response {
	a.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(b)}
}

func (a *testApp) json(method, target, body string, headers ...string) response {
	a.t.Helper()
	return a.do(method, target, "application/json", body, headers...)
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

type problemBody struct {
	Type           string             `json:"type"`
	Title          string             `json:"title"`
	Status         int                `json:"status"`
	Detail         string             `json:"detail"`
	Errors         []items.FieldError `json:"errors"`
	CurrentVersion int64              `json:"current_version"`
}

// wantProblem checks an RFC 9457 answer with the given status and type suffix.
func wantProblem(t *testing.T, r response, status int, typ string) problemBody {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	r.decode(t, &p)
	if p.Type != web.ProblemTypeBase+typ || p.Status != status || p.Title == "" {
		t.Fatalf("problem = %+v, want type %q status %d", p, typ, status)
	}
	return p
}

func (a *testApp) create(name string) items.Item {
	a.t.Helper()
	r := a.json("POST", "/api/items", `{"name":`+quote(name)+`}`)
	if r.StatusCode != http.StatusCreated {
		a.t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	var it items.Item
	r.decode(a.t, &it)
	return it
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
