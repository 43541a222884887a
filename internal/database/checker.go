package database

// This file keeps the last known state of the database. Checks run in the
// background and on demand (coalesced), so /healthz never waits on the
// database and /readyz cannot be used to flood it.

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
	// Migrated is true when the database's schema version is at least the
	// one this build needs (see CheckSchema), whoever migrated it; without a
	// schema check, once SetMigrated was called.
	Migrated bool `json:"migrated"`
	// SchemaVersion and SchemaWanted are the database's schema version and
	// the one this build needs, as of the last check (with CheckSchema).
	SchemaVersion int32 `json:"schema_version,omitzero"`
	SchemaWanted  int32 `json:"schema_wanted,omitzero"`
}

// SchemaCheck reports the schema version the database has and the one this
// build needs.
type SchemaCheck func(ctx context.Context) (have, want int32, err error)

// Pinger is the check; pgxpool.Pool's Ping fits.
type Pinger func(ctx context.Context) error

// Checker runs database checks and caches the result.
type Checker struct {
	ping    Pinger
	timeout time.Duration
	fresh   time.Duration
	logger  *slog.Logger
	mu      sync.Mutex
	state   State
	schema  SchemaCheck
	// schemaLogged is the last schema outcome logged ("" before the first),
	// so a state is logged once when it starts, not on every check.
	schemaLogged string
	checking     chan struct{} // non-nil while a check runs; closed when it ends
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

// CheckSchema makes every check that reaches the database also compare its
// schema version with the one this build needs; Migrated follows the
// result. A newer schema counts as migrated: the previous release keeps
// serving on its successor's (expand-only) schema.
func (c *Checker) CheckSchema(s SchemaCheck) {
	c.mu.Lock()
	c.schema = s
	c.mu.Unlock()
}

// SetMigrated records that the schema is in place. With a schema check the
// database is the judge: it only makes the next Check ask it again.
func (c *Checker) SetMigrated() {
	c.mu.Lock()
	if c.schema != nil {
		c.state.CheckedAt = time.Time{}
	} else {
		c.state.Migrated = true
	}
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
	schema := c.schema
	c.mu.Unlock()
	var (
		have, want int32
		schemaErr  error
	)
	if err == nil && schema != nil {
		have, want, schemaErr = schema(ctx)
	}
	c.mu.Lock()
	prev := c.state.Status
	if err == nil && schema != nil {
		c.state.Migrated = schemaErr == nil && have >= want
		c.state.SchemaVersion, c.state.SchemaWanted = have, want
	}
	migrated := c.state.Migrated
	var schemaLog string
	if err == nil && schema != nil {
		outcome := "behind"
		switch {
		case schemaErr != nil:
			outcome = "unknown"
		case migrated:
			outcome = "current"
		}
		if outcome != c.schemaLogged {
			c.schemaLogged, schemaLog = outcome, outcome
		}
	}
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
	switch schemaLog {
	case "unknown":
		c.logger.Warn("database schema version unknown", slog.String("error", schemaErr.Error()))
	case "current":
		c.logger.Info("database schema is current", slog.Int("version", int(have)), slog.Int("wanted", int(want)))
	case "behind":
		c.logger.Warn("database schema is behind this build: run the migrations (server migrate)",
			slog.Int("version", int(have)), slog.Int("wanted", int(want)))
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
