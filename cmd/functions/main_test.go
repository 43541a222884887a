package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

type exchange struct {
	method, path, body string
}

type answer struct {
	Status      int
	ContentType string
	Allow       string
	Body        string
}

// volatile parts of a body: ids, times (JSON fields and the pages' <time>
// elements, which the two servers render in different seconds), uptime.
var volatile = regexp.MustCompile(`"(id|created_at|updated_at|started_at|checked_at|since|uptime_seconds|latency_ms)":("[^"]*"|[0-9.]+)|/items/[0-9]+|<time datetime="[^"]*">[^<]*</time>`)

func run(t *testing.T, base string, script []exchange) []answer {
	t.Helper()
	var out []answer
	for _, e := range script {
		req, _ := http.NewRequest(e.method, base+e.path, strings.NewReader(e.body))
		if e.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out = append(out, answer{res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Allow"),
			volatile.ReplaceAllString(string(b), "$1")})
	}
	return out
}

// The Functions Framework entry point (FUNCTION_TARGET=app) and our own
// server answer every request the same way.
func TestBothEntryPointsServeTheSameResponses(t *testing.T) {
	t.Parallel()
	env := []string{"AUTH_MODE=dev", "DEV_USER=tester@example.com"}
	server := proctest.Start(t, proctest.Build(t, "./cmd/server"), append(env, "DATABASE_URL="+pgtest.NewDatabase(t))...)
	functions := proctest.Start(t, proctest.Build(t, "./cmd/functions"),
		append(env, "FUNCTION_TARGET=app", "DATABASE_URL="+pgtest.NewDatabase(t))...)
	server.WaitHTTP(t, "/readyz", 200, 20*time.Second)
	functions.WaitHTTP(t, "/readyz", 200, 20*time.Second)

	script := []exchange{
		{"GET", "/healthz", ""},
		{"GET", "/api/items", ""},
		{"POST", "/api/items", `{"name":"same","description":"everywhere"}`},
		{"GET", "/api/items?limit=1", ""},
		{"POST", "/api/items", `{"name":""}`},
		{"POST", "/api/items", `{"name":`},
		{"PATCH", "/api/items", `{}`},
		{"GET", "/api/items/999999", ""},
		{"GET", "/", ""},
		{"GET", "/items/new", ""},
		{"GET", "/nope", ""},
		{"GET", "/static/style.css", ""},
	}
	a, b := run(t, server.URL(""), script), run(t, functions.URL(""), script)
	for i := range script {
		if a[i] != b[i] {
			t.Errorf("%s %s differs:\n server:    %+v\n functions: %+v", script[i].method, script[i].path, a[i], b[i])
		}
	}
	if a[2].Status != http.StatusCreated || a[6].Status != http.StatusMethodNotAllowed {
		t.Fatalf("unexpected answers: %+v", a)
	}
}

// FUNCTION_TARGET=healthz serves the health check on every path.
func TestHealthzFunction(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, proctest.Build(t, "./cmd/functions"),
		"FUNCTION_TARGET=healthz", "DATABASE_URL="+pgtest.NewDatabase(t))
	p.WaitHTTP(t, "/", 200, 20*time.Second)
	res, err := http.Get(p.URL("/anything"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct{ Status, Version string }
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil || res.StatusCode != 200 || h.Version == "" {
		t.Fatalf("healthz function: %d %+v %v", res.StatusCode, h, err)
	}
}
