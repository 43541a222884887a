// Package config turns the process environment into one validated Config.
//
// It is the only place that knows variable names; the rest of the program
// receives typed values. Load reports every problem at once so an operator
// fixes a broken deployment in one round trip, and String never prints secrets.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config is the whole runtime configuration of the service.
type Config struct {
	Server    Server
	Log       Log
	Database  Database
	Auth      Auth
	Telemetry Telemetry
	Tracing   Tracing
	// OnCloudRun is true when K_SERVICE is set, i.e. the process runs as a
	// Cloud Run service. Used only for safety checks, never for behaviour the
	// tests cannot reach.
	OnCloudRun bool
	// Service is Cloud Run's K_SERVICE, or "example-function" elsewhere.
	Service string
	// Function is FUNCTION_TARGET: the registered function cmd/server
	// serves (package function keeps the table), "app" by default.
	Function string
}

// Server holds the HTTP server settings of cmd/server.
type Server struct {
	// Host (LISTEN_HOST) is the address to listen on; empty means every
	// interface, which a container needs. cmd/dev defaults it to 127.0.0.1.
	Host              string
	Port              int
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// ShutdownTimeout bounds the drain after SIGTERM. Cloud Run kills the
	// container 10 s after SIGTERM, so the default (7 s) leaves room for the
	// telemetry flush (1.5 s) and closing the pool afterwards.
	ShutdownTimeout time.Duration
}

// Log selects the log format and level.
type Log struct {
	Level  slog.Level
	Format string // "json" (Cloud Logging) or "text"
}

// Lookup reads one environment variable; os.LookupEnv fits.
type Lookup func(string) (string, bool)

// Load reads and validates the configuration. The returned error, if any, is
// an *Error naming every invalid variable.
func Load(lookup Lookup) (Config, error) {
	p := &parser{lookup: lookup}
	var c Config
	_, c.OnCloudRun = lookup("K_SERVICE")
	c.Service = p.str("K_SERVICE", "example-function")
	c.Function = p.str("FUNCTION_TARGET", "app")

	c.Server = Server{
		Host:              loadListenHost(p),
		Port:              p.integer("PORT", 8080, 1, 65535),
		ReadHeaderTimeout: p.duration("HTTP_READ_HEADER_TIMEOUT", 5*time.Second),
		ReadTimeout:       p.duration("HTTP_READ_TIMEOUT", 30*time.Second),
		WriteTimeout:      p.duration("HTTP_WRITE_TIMEOUT", 60*time.Second),
		IdleTimeout:       p.duration("HTTP_IDLE_TIMEOUT", 120*time.Second),
		MaxHeaderBytes:    p.integer("HTTP_MAX_HEADER_BYTES", 64<<10, 4<<10, 1<<20),
		ShutdownTimeout:   p.duration("SHUTDOWN_TIMEOUT", 7*time.Second),
	}
	if c.Server.ShutdownTimeout > 10*time.Second {
		p.problem("SHUTDOWN_TIMEOUT", "must be at most 10s: Cloud Run kills the container 10 s after SIGTERM")
	}

	c.Log.Format = p.oneOf("LOG_FORMAT", "json", "json", "text")
	c.Log.Level = p.level("LOG_LEVEL", slog.LevelInfo)

	c.Database = loadDatabase(p)
	if c.Server.WriteTimeout > 0 && c.Database.RequestTimeout >= c.Server.WriteTimeout {
		// A request cut off by the write timeout gets no answer at all,
		// not the 503 the database deadline promises.
		p.problem("DB_REQUEST_TIMEOUT", "must be below HTTP_WRITE_TIMEOUT (%s), got %s", c.Server.WriteTimeout, c.Database.RequestTimeout)
	}
	c.Auth = loadAuth(p, c.OnCloudRun)
	c.Telemetry = loadTelemetry(p)
	c.Tracing = loadTracing(p)

	if len(p.problems) > 0 {
		return c, &Error{Problems: p.problems}
	}
	return c, nil
}

// Problem is one invalid variable.
type Problem struct {
	Var     string
	Message string
}

// Error lists every configuration problem found by Load.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Var, p.Message)
	}
	return b.String()
}

// Is lets errors.Is(err, ErrInvalid) match any *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ErrInvalid matches every configuration error.
var ErrInvalid = errors.New("invalid configuration")

// LogValue prints the configuration without secrets, for the start-up log.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("service", c.Service),
		slog.Bool("on_cloud_run", c.OnCloudRun),
		slog.String("function", c.Function),
		slog.String("listen_host", c.Server.Host),
		slog.Int("port", c.Server.Port),
		slog.String("shutdown_timeout", c.Server.ShutdownTimeout.String()),
		slog.String("log_format", c.Log.Format),
		slog.String("log_level", c.Log.Level.String()),
		slog.Any("database", c.Database),
		slog.Any("auth", c.Auth),
		slog.Any("telemetry", c.Telemetry),
		slog.Any("tracing", c.Tracing),
	)
}
