package config

import (
	"net"
	"strings"
)

// isLoopbackHost reports whether host names this machine's loopback
// interface only: "localhost" (or "localhost."), an address in 127.0.0.0/8,
// or ::1 (IPv6
// brackets and an IPv4-mapped form are accepted). Plain-text connections to
// such a host never leave the machine, so rules that demand TLS for
// credentials exempt them.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
