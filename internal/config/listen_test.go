package config

import (
	"errors"
	"testing"
)

func TestListenHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host     string
		addr     string
		loopback bool
		bad      bool
	}{
		{"", ":8080", false, false},
		{"127.0.0.1", "127.0.0.1:8080", true, false},
		{"localhost", "localhost:8080", true, false},
		{"::1", "[::1]:8080", true, false},
		{"0.0.0.0", "0.0.0.0:8080", false, false},
		{"192.0.2.7", "192.0.2.7:8080", false, false},
		{"example.com", "", false, true},
		{"127.0.0.1:9090", "", false, true},
	}
	for _, tt := range tests {
		c, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app", "LISTEN_HOST": tt.host}))
		if tt.bad {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || cerr.Problems[0].Var != "LISTEN_HOST" {
				t.Errorf("LISTEN_HOST=%q: Load = %v, want a LISTEN_HOST problem", tt.host, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("LISTEN_HOST=%q: %v", tt.host, err)
			continue
		}
		if got := c.Server.Addr(); got != tt.addr {
			t.Errorf("LISTEN_HOST=%q: Addr() = %q, want %q", tt.host, got, tt.addr)
		}
		if got := c.Server.Loopback(); got != tt.loopback {
			t.Errorf("LISTEN_HOST=%q: Loopback() = %v, want %v", tt.host, got, tt.loopback)
		}
	}
}
