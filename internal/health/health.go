// Package health keeps the last known state of the service's dependencies.
// Checks run in the background and on demand (coalesced), so /healthz never
// waits on the database and /readyz cannot be used to flood it.
package health

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// State is the last known state of the database.
type State struct {
	// Status is "up", "down" or "unknown" (not checked yet).
	Status    string    `json:"status"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
	// LatencyMS is how long the last check took.
	LatencyMS float64 `json:"latency_ms,omitzero"`
	// Since is when Status last changed.
	Since time.Time `json:"since,omitzero"`
	// Migrated is true once the schema migrations have been applied.
	Migrated bool `json:"migrated"`
}

// Pinger is the check; pgxpool.Pool's Ping fits.
type Pinger func(ctx context.Context) error

// Checker runs database checks and caches the result.
type Checker struct {
	ping     Pinger
	timeout  time.Duration
	fresh    time.Duration
	logger   *slog.Logger
	mu       sync.Mutex
	state    State
	checking chan struct{} // non-nil while a check runs; closed when it ends
}

// NewChecker returns a checker whose checks give up after timeout; ping
// may be nil when no database is configured, which reports "down". The
// timeout should cover a cold connection (on Cloud SQL: key generation,
// two Admin API calls and a TLS handshake), or the first check of every
// instance would report the database down.
func NewChecker(ping Pinger, timeout time.Duration, logger *slog.Logger) *Checker {
	return &Checker{
		ping:    ping,
		timeout: timeout,
		fresh:   time.Second,
		logger:  logger,
		state:   State{Status: "unknown"},
	}
}

// State returns the cached state without waiting.
func (c *Checker) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SetMigrated records that the schema is in place.
func (c *Checker) SetMigrated() {
	c.mu.Lock()
	c.state.Migrated = true
	c.mu.Unlock()
}

// Check returns a state no older than the freshness window, running one check
// when needed. Concurrent callers share a single running check.
func (c *Checker) Check(ctx context.Context) State {
	c.mu.Lock()
	if time.Since(c.state.CheckedAt) < c.fresh {
		s := c.state
		c.mu.Unlock()
		return s
	}
	wait := c.checking
	if wait == nil {
		wait = make(chan struct{})
		c.checking = wait
		c.mu.Unlock()
		// The check gets its own deadline, not the caller's: a client that
		// goes away must not leave a half-done check for everyone else.
		go c.run(wait)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-wait:
	case <-ctx.Done():
	}
	return c.State()
}

func (c *Checker) run(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	err := ErrNoDatabase
	if c.ping != nil {
		err = c.ping(ctx)
	}
	status := "up"
	if err != nil {
		status = "down"
	}
	c.mu.Lock()
	prev := c.state.Status
	c.state.Status = status
	c.state.CheckedAt = time.Now().UTC()
	c.state.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if prev != status {
		c.state.Since = c.state.CheckedAt
	}
	c.checking = nil
	c.mu.Unlock()
	close(done)
	if prev != status {
		if err != nil {
			c.logger.Warn("database is unavailable", slog.String("error", err.Error()))
		} else {
			c.logger.Info("database is available")
		}
	}
}

// Run checks every interval until ctx ends.
func (c *Checker) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type noDatabase struct{}

func (noDatabase) Error() string { return "no database configured" }

// ErrNoDatabase is the check result when no database is configured.
var ErrNoDatabase error = noDatabase{}
