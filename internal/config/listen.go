package config

import (
	"net"
	"strconv"
)

// loadListenHost reads LISTEN_HOST: an IP address or localhost, never a
// name that DNS could point elsewhere.
func loadListenHost(p *parser) string {
	h := p.str("LISTEN_HOST", "")
	if h != "" && h != "localhost" && net.ParseIP(h) == nil {
		p.problem("LISTEN_HOST", "must be an IP address such as 127.0.0.1 or 0.0.0.0, or localhost, got %q", h)
		return ""
	}
	return h
}

// Loopback reports whether the server listens on the loopback interface
// only, so nothing off this machine can reach it.
func (s Server) Loopback() bool { return isLoopbackHost(s.Host) }

// Addr is the address to listen on, host:port (":port" for every interface).
func (s Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }
