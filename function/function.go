// Package function is the deployable surface: it registers the HTTP
// functions "app" and "healthz" with the Functions Framework, and exports
// the same handlers for any other server to mount. (cmd/server builds them
// with web.NewApp directly, to keep the framework's dependencies, and
// their start-up cost, out of its binary; a test checks both answer alike.)
package function

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"example.com/example-function/internal/app"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/web"
)

// Deps are the dependencies both handlers are built from.
type Deps = web.Deps

// Handlers are the two functions as plain http.Handlers.
type Handlers struct {
	// App serves every route, /healthz included.
	App http.Handler
	// Healthz serves only the health check, on any path.
	Healthz http.Handler
}

// NewHandlers builds both handlers from one set of dependencies.
func NewHandlers(d Deps) (*Handlers, error) {
	a, err := web.NewApp(d)
	if err != nil {
		return nil, err
	}
	h, err := web.NewHealthz(d)
	if err != nil {
		return nil, err
	}
	return &Handlers{App: a, Healthz: h}, nil
}

func init() {
	// The framework needs its functions registered at init time, before any
	// configuration can be reported, so the service starts on the first
	// request. Starting is cheap: it does not wait for the database.
	start := sync.OnceValues(func() (*Handlers, error) {
		ctx := context.Background()
		cfg, err := config.Load(os.LookupEnv)
		if err != nil {
			app.NewLogger(cfg.Log, os.Stdout, "").Error("cannot start", slog.String("error", err.Error()))
			return nil, err
		}
		// The framework offers no shutdown hook, so telemetry is exported
		// periodically but not flushed at exit; cmd/server does flush.
		logger, tel, err := app.Observe(ctx, cfg, os.Stdout)
		if err != nil {
			logger.Error("cannot start", slog.String("error", err.Error()))
			return nil, err
		}
		a, err := app.Start(ctx, cfg, logger, app.WithTelemetry(tel))
		if err != nil {
			logger.Error("cannot start", slog.String("error", err.Error()))
			return nil, err
		}
		return NewHandlers(a.Deps)
	})
	serve := func(pick func(*Handlers) http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h, err := start()
			if err != nil {
				// Details are in the log; the client learns nothing internal.
				http.Error(w, "service misconfigured; see the logs", http.StatusInternalServerError)
				return
			}
			pick(h).ServeHTTP(w, r)
		}
	}
	functions.HTTP("app", serve(func(h *Handlers) http.Handler { return h.App }))
	functions.HTTP("healthz", serve(func(h *Handlers) http.Handler { return h.Healthz }))
}
