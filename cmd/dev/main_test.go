package main_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/example-function/internal/proctest"
)

// `make run` on a machine with nothing configured: the dev runner starts
// its own PostgreSQL, migrates and seeds it, signs requests in as the dev
// user, stops both on Ctrl-C, and keeps the data for the next run.
func TestDevRunnerStartsSeedsStopsAndKeepsData(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/dev")
	dir, err := os.MkdirTemp("", "devrun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user must pass through
		t.Fatal(err)
	}
	env := []string{"DEV_DATA_DIR=" + dir + "/pg"}

	p := proctest.Start(t, bin, env...)
	p.WaitHTTP(t, "/readyz", 200, 60*time.Second)
	names := listNames(t, p)
	if len(names) != 3 {
		t.Fatalf("seeded items = %v, want 3", names)
	}
	res, err := http.Post(p.URL("/api/items"), "application/json", strings.NewReader(`{"name":"kept across runs"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create as the dev user: %d", res.StatusCode)
	}
	pgPort := postgresPort(t, p.Output())

	p.Signal(t, syscall.SIGINT)
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after Ctrl-C", code)
	}
	if c, err := net.DialTimeout("tcp", pgPort, time.Second); err == nil {
		c.Close()
		t.Fatalf("PostgreSQL still listening on %s after the runner stopped", pgPort)
	}

	p = proctest.Start(t, bin, env...)
	p.WaitHTTP(t, "/readyz", 200, 60*time.Second)
	names = listNames(t, p)
	if len(names) != 4 || names[0] != "kept across runs" {
		t.Fatalf("after restart: %v, want the 3 seeds plus the new item, not seeded twice", names)
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

func listNames(t *testing.T, p *proctest.Proc) []string {
	t.Helper()
	res, err := http.Get(p.URL("/api/items"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Items []struct{ Name string } }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Name)
	}
	return names
}

var portRE = regexp.MustCompile(`PostgreSQL on 127\.0\.0\.1:(\d+)`)

func postgresPort(t *testing.T, out string) string {
	t.Helper()
	m := portRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("runner did not say where PostgreSQL listens:\n%s", out)
	}
	return "127.0.0.1:" + m[1]
}
