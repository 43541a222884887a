package main_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/localpg"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/web"
	"example.com/example-function/internal/web/contract"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var devEnv = []string{"AUTH_MODE=dev", "DEV_USER=tester@example.com"}

func TestInvalidConfigurationExitsNamingEveryProblem(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, "DB_MAX_CONNS=0", "LOG_LEVEL=loud", "AUTH_MODE=magic")
	if code := p.Wait(t, 10*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	for _, v := range []string{"DATABASE_URL", "DB_MAX_CONNS", "LOG_LEVEL", "AUTH_MODE"} {
		if !strings.Contains(p.Output(), v) {
			t.Errorf("error does not name %s:\n%s", v, p.Output())
		}
	}
}

// The server listens before it reaches the database, answers /healthz 200
// while PostgreSQL is down, /readyz 503, and recovers by itself (migrating
// in the background) once PostgreSQL comes up: no restart needed.
func TestStartsAndRecoversWithDatabaseDown(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	dbPort := proctest.FreePort(t)
	dbURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", dbPort)
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+dbURL)...)
	ready := p.WaitHTTP(t, "/healthz", 200, 10*time.Second)
	t.Logf("exec to first /healthz 200 with the database down: %s", ready.Sub(p.Started))

	var h struct {
		Status   string
		Database struct{ Status string }
	}
	getJSON(t, p.URL("/healthz"), 200, &h)
	if h.Status != "degraded" {
		t.Fatalf("healthz status %q, want degraded", h.Status)
	}
	p.WaitHTTP(t, "/readyz", 503, 5*time.Second)
	res := post(t, p.URL("/api/items"), `{"name":"while down"}`)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST while down: %d", res.StatusCode)
	}

	srv, err := localpg.Start(context.Background(), localpg.Options{Port: dbPort})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	p.WaitHTTP(t, "/readyz", 200, 45*time.Second)
	if res := post(t, p.URL("/api/items"), `{"name":"after recovery"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("POST after recovery: %d", res.StatusCode)
	}
	getJSON(t, p.URL("/healthz"), 200, &h)
	if h.Status != "ok" || h.Database.Status != "up" {
		t.Fatalf("healthz after recovery: %+v", h)
	}
}

// SIGTERM stops new connections but lets a request already in flight
// finish, then exits 0 within Cloud Run's 10 s.
func TestSIGTERMDrainsInFlightRequest(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+pgtest.NewDatabase(t))...)
	p.WaitHTTP(t, "/readyz", 200, 20*time.Second)

	// A request whose body is still arriving is in flight at the server.
	finish := inFlight(t, p)

	p.Signal(t, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !p.WaitOutput(ctx, "draining") {
		t.Fatal("server did not start draining")
	}
	// New connections are refused while the old one drains.
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second); err == nil {
		conn.Close()
		t.Error("server still accepts connections after SIGTERM")
	}
	if status, err := finish(); err != nil || status != http.StatusCreated {
		t.Fatalf("in-flight request: status %d, err %v", status, err)
	}
	start := time.Now()
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	t.Logf("exited %s after the in-flight request finished", time.Since(start))
	// Log lines are batched on their way to stdout: the last ones, and the
	// in-flight request's, must still be out when the process has exited.
	out := p.Output()
	if !strings.Contains(out, `"drained"`) || !strings.Contains(out, `"POST /api/items 201"`) {
		t.Errorf("log lines lost at exit; output:\n%s", out)
	}
}

func TestServesH2C(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+pgtest.NewDatabase(t))...)
	p.WaitHTTP(t, "/healthz", 200, 10*time.Second)

	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols, TLSClientConfig: &tls.Config{}}}
	res, err := client.Get(p.URL("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 200 {
		t.Fatalf("got %s %d, want HTTP/2 200", res.Proto, res.StatusCode)
	}
}

func TestHealthzReportsStampedVersion(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server",
		buildinfo.LinkFlag("Version", "v7.8.9"), buildinfo.LinkFlag("Commit", "deadbeef"))
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+pgtest.NewDatabase(t))...)
	p.WaitHTTP(t, "/healthz", 200, 10*time.Second)
	var h struct{ Version, Commit string }
	getJSON(t, p.URL("/healthz"), 200, &h)
	if h.Version != "v7.8.9" || h.Commit != "deadbeef" {
		t.Fatalf("healthz reports %+v", h)
	}
}

func getJSON(t *testing.T, url string, want int, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, res.StatusCode, want)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// post sends a JSON body and checks the answer against the API's OpenAPI
// document, as the real binary gives it.
func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	checker, err := contract.New(web.OpenAPIDocument(), web.ProblemTypeBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := checker.Check(req, []byte(body), res); err != nil {
		t.Error(err)
	}
	return res
}

// `server healthcheck` is the container health check: 0 while the server
// answers /healthz, 1 when nothing listens.
func TestHealthcheckSubcommand(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL="+pgtest.NewDatabase(t))...)
	p.WaitHTTP(t, "/healthz", 200, 10*time.Second)
	check := func() int {
		c := exec.Command(bin, "healthcheck")
		c.Env = []string{fmt.Sprintf("PORT=%d", p.Port)}
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatalf("healthcheck: %v %s", err, out)
		}
		return 0
	}
	if code := check(); code != 0 {
		t.Fatalf("healthcheck against a healthy server: exit %d", code)
	}
	p.Signal(t, syscall.SIGTERM)
	p.Wait(t, 10*time.Second)
	if code := check(); code != 1 {
		t.Fatalf("healthcheck with no server: exit %d, want 1", code)
	}
}

// inFlight starts a POST /api/items whose body is only half sent; finish
// sends the rest and returns the status (or the error). header holds
// name, value pairs.
func inFlight(t *testing.T, proc *proctest.Proc, header ...string) (finish func() (int, error)) {
	t.Helper()
	body, w := io.Pipe()
	req, err := http.NewRequest("POST", proc.URL("/api/items"), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	client := &http.Client{Timeout: 15 * time.Second}
	go func() {
		res, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		res.Body.Close()
		done <- result{status: res.StatusCode}
	}()
	if _, err := w.Write([]byte(`{"name":"in `)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server start reading it
	return func() (int, error) {
		if _, err := w.Write([]byte(`flight"}`)); err != nil {
			return 0, err
		}
		w.Close()
		r := <-done
		return r.status, r.err
	}
}
