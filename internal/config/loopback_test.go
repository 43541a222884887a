package config

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost":                true,
		"LOCALHOST":                true,
		"127.0.0.1":                true,
		"127.1.2.3":                true,
		"::1":                      true,
		"[::1]":                    true,
		"::ffff:127.0.0.1":         true,
		"":                         false,
		"0.0.0.0":                  false,
		"::":                       false,
		"128.0.0.1":                false,
		"10.0.0.1":                 false,
		"localhost.evil":           false,
		"127.0.0.1.nip.io":         false,
		"telemetry.googleapis.com": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
