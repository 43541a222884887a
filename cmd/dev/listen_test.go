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

// Everyone is an editor under `make run`, so the dev runner listens on
// 127.0.0.1 unless LISTEN_HOST says otherwise, and then warns.
func TestDevRunnerListensOnLoopbackByDefault(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, "./cmd/dev")
	ext := proctest.ExternalIP()
	tests := []struct {
		name      string
		env       []string
		addr      string
		reachable bool
		warns     bool
	}{
		{"default", nil, "127.0.0.1", false, false},
		// Go listens dual-stack for 0.0.0.0 and reports it as [::].
		{"every interface on request", []string{"LISTEN_HOST=0.0.0.0"}, "::", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A configured (unreachable) database: no local PostgreSQL is
			// started, and the server answers /healthz without one.
			env := append([]string{"DATABASE_URL=postgres://127.0.0.1:1/x?connect_timeout=1", "DB_MIGRATE=false"}, tt.env...)
			p := proctest.Start(t, bin, env...)
			p.WaitHTTP(t, "/healthz", http.StatusOK, 20*time.Second)
			port := strconv.Itoa(p.Port)
			// Every line before "listening" is out once it is.
			p.WantOutput(t, "addr="+net.JoinHostPort(tt.addr, port), 10*time.Second)
			if got := strings.Contains(p.Output(), "AUTH_MODE=dev listening on"); got != tt.warns {
				t.Errorf("warning logged %v, want %v:\n%s", got, tt.warns, p.Output())
			}
			if ext == "" {
				t.Log("this machine has no address off the loopback interface; only the logged address was checked")
				return
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ext, port), 2*time.Second)
			if err == nil {
				c.Close()
			}
			if reached := err == nil; reached != tt.reachable {
				t.Errorf("dial %s:%s: reached %v (%v), want %v", ext, port, reached, err, tt.reachable)
			}
		})
	}
}
