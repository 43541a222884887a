package service

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"time"
)

// HealthCheck asks the server on the given port (PORT, or 8080) for
// /healthz, for container health checks: the distroless image has no shell
// or curl, so the server binary checks itself (`server healthcheck`).
func HealthCheck(ctx context.Context, port string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://127.0.0.1:" + cmp.Or(port, "8080") + "/healthz"
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
