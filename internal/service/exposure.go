package service

import (
	"log/slog"

	"example.com/example-function/internal/config"
)

// warnExposedDevIdentity logs when dev sign-in (every caller is DEV_USER,
// an editor under `make run`) listens beyond the loopback interface:
// anyone who can reach the address can then change the data.
func warnExposedDevIdentity(cfg config.Config, logger *slog.Logger) {
	if cfg.Auth.Mode != "dev" || cfg.Server.Loopback() {
		return
	}
	host := cfg.Server.Host
	if host == "" {
		host = "every interface"
	}
	logger.Warn("AUTH_MODE=dev listening on "+host+", not only loopback: anyone who can reach this address "+
		"is signed in as "+cfg.Auth.DevUser+"; set LISTEN_HOST=127.0.0.1 unless that is intended",
		slog.String("listen_host", cfg.Server.Host), slog.String("dev_user", cfg.Auth.DevUser))
}
