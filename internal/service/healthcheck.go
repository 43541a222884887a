package service

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HealthCheck asks the server listening on host and port (LISTEN_HOST and
// PORT; loopback and 8080 when empty) for /healthz, for container health
// checks: the distroless image has no shell or curl, so the server binary
// checks itself (`server healthcheck`).
func HealthCheck(ctx context.Context, host, port string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // every interface includes loopback
	}
	url := "http://" + net.JoinHostPort(host, cmp.Or(port, "8080")) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, res.Status)
	}
	return nil
}
