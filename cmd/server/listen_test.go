package main_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/proctest"
)

// The container must listen on every interface: Cloud Run's front end
// reaches it over the container's network, not its loopback.
func TestServerListensOnEveryInterface(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, "DATABASE_URL=postgres://127.0.0.1:1/x?connect_timeout=1", "DB_MIGRATE=false")
	p.WaitHTTP(t, "/healthz", http.StatusOK, 20*time.Second)
	port := strconv.Itoa(p.Port)
	// Every line before "listening" is out once it is (lines stay in order).
	p.WantOutput(t, `"addr":"[::]:`+port+`"`, 10*time.Second)
	if strings.Contains(p.Output(), "listening on every interface, not only loopback") {
		t.Errorf("warned without dev sign-in:\n%s", p.Output())
	}
	ext := proctest.ExternalIP()
	if ext == "" {
		t.Log("this machine has no address off the loopback interface; only the logged address was checked")
		return
	}
	client := &http.Client{Timeout: 2 * time.Second}
	res, err := client.Get("http://" + net.JoinHostPort(ext, port) + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz on %s: %v", ext, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on %s: %d", ext, res.StatusCode)
	}
}

// Dev sign-in in the container (compose.yaml) listens on every interface
// too, and says so.
func TestServerWarnsAboutDevSignInOffLoopback(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, append(devEnv, "DATABASE_URL=postgres://127.0.0.1:1/x?connect_timeout=1", "DB_MIGRATE=false")...)
	p.WaitHTTP(t, "/healthz", http.StatusOK, 20*time.Second)
	p.WantOutput(t, `"message":"listening"`, 10*time.Second)
	if !strings.Contains(p.Output(), `AUTH_MODE=dev listening on every interface, not only loopback`) ||
		!strings.Contains(p.Output(), `"severity":"WARNING"`) {
		t.Errorf("no warning:\n%s", p.Output())
	}
}
