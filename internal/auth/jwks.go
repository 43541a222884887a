package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeySet is an issuer's published JSON Web Key Set, fetched on first use and
// cached. One fetch runs at a time, and requests never wait on one for
// longer than Wait (1 s):
//
//   - While no usable keys are held (cold start, or every fetch failed), a
//     request starts a fetch, backing off 0.5 s, 1 s, then every 2 s
//     between failed attempts, and the caller gets ReasonKeysUnavailable
//     (503, not the user's fault) until one succeeds.
//   - A token naming a key the set does not hold (the issuer rotated) asks
//     again, but at most once per MinRefresh: a flood of tokens with
//     invented key ids cannot turn the service into an amplifier against
//     the issuer.
//   - A set older than MaxAge is refreshed in the background while it keeps
//     serving; it is given up after MaxStale without a successful fetch.
type KeySet struct {
	url        string
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	maxStale   time.Duration
	wait       time.Duration
	now        func() time.Time
	logger     *slog.Logger

	mu       sync.Mutex // guards the fields below
	keys     map[string]jose.JSONWebKey
	fetched  time.Time // last successful fetch
	tried    time.Time // start of the last fetch
	failures int       // fetches failed since the last success
	lastErr  error     // why the last fetch failed
	inflight chan struct{}
	fetches  int // number of fetch attempts, for tests and metrics
}

// KeySetOptions tunes a KeySet; zero values pick the defaults.
type KeySetOptions struct {
	Client *http.Client // default: 10 s timeout
	// MinRefresh is the shortest interval between fetches for unknown
	// key ids while keys are held; default 30 s.
	MinRefresh time.Duration
	// MaxAge is how old a fetched set may get before it is refreshed in
	// the background; default 1 h.
	MaxAge time.Duration
	// MaxStale is how old a set may get, without a successful fetch, before
	// it is no longer used; default 24 h, at least MaxAge.
	MaxStale time.Duration
	// Wait is the longest a request waits for a fetch; default 1 s.
	Wait time.Duration
	// Now is the clock of the ages and the backoff; default time.Now.
	Now func() time.Time
	// Logger hears when fetching starts to fail and when it recovers.
	Logger *slog.Logger
}

// KeySetRefreshAge is the default age at which a held key set is fetched
// again (in the background). A MaxStale must exceed it.
const KeySetRefreshAge = time.Hour

// Limits and defaults of key set fetching.
const (
	maxKeySetBytes    = 1 << 20
	fetchTimeout      = 10 * time.Second
	defaultMinRefresh = 30 * time.Second
	defaultMaxStale   = 24 * time.Hour
	defaultWait       = time.Second
	firstBackoff      = 500 * time.Millisecond
	maxBackoff        = 2 * time.Second
)

// KeysRetryAfter is the Retry-After, in seconds, of a 503 for unavailable
// keys: by then the set has been asked again (the backoff's cap).
const KeysRetryAfter = "2"

// NewKeySet returns a KeySet for the JWK set published at url.
func NewKeySet(url string, o KeySetOptions) *KeySet {
	ks := &KeySet{url: url, client: o.Client, minRefresh: o.MinRefresh, maxAge: o.MaxAge,
		maxStale: o.MaxStale, wait: o.Wait, now: o.Now, logger: o.Logger}
	if ks.client == nil {
		ks.client = &http.Client{Timeout: fetchTimeout}
	}
	if ks.minRefresh <= 0 {
		ks.minRefresh = defaultMinRefresh
	}
	if ks.maxAge <= 0 {
		ks.maxAge = KeySetRefreshAge
	}
	if ks.maxStale <= 0 {
		ks.maxStale = defaultMaxStale
	}
	ks.maxStale = max(ks.maxStale, ks.maxAge)
	if ks.wait <= 0 {
		ks.wait = defaultWait
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	if ks.logger == nil {
		ks.logger = slog.New(slog.DiscardHandler)
	}
	return ks
}

// Fetches reports how many times the endpoint has been asked.
func (ks *KeySet) Fetches() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// Warm fetches the set now (or joins the fetch already running), so the
// first signed-in request does not wait for it. A failure is not fatal:
// requests ask again. Unlike a request's fetch, Warm's stops when ctx ends,
// so shutdown never waits on a slow key endpoint.
func (ks *KeySet) Warm(ctx context.Context) error {
	ks.mu.Lock()
	done := ks.inflight
	if done == nil {
		done = ks.startLocked(ctx)
	}
	ks.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.keys) == 0 {
		return ks.unavailableLocked()
	}
	return nil
}

// Key returns the public key with the given key id. The error is a
// *Refusal with ReasonUnknownKey or ReasonKeysUnavailable.
func (ks *KeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	ks.mu.Lock()
	k, found, usable := ks.lookupLocked(kid)
	var done <-chan struct{}
	switch {
	case usable && found:
		if ks.now().Sub(ks.fetched) >= ks.maxAge && ks.inflight == nil && ks.backedOffLocked() {
			ks.startLocked(context.WithoutCancel(ctx))
		}
		ks.mu.Unlock()
		return k, nil
	case usable:
		// Unknown kid while keys are held: the flood limit applies.
		done = ks.inflight
		if done == nil && ks.now().Sub(ks.tried) >= ks.minRefresh {
			done = ks.startLocked(context.WithoutCancel(ctx))
		}
		if done == nil {
			ks.mu.Unlock()
			return jose.JSONWebKey{}, refuse(ReasonUnknownKey, "key id not in the issuer's key set")
		}
	default:
		// No usable keys: recover as soon as the backoff allows.
		done = ks.inflight
		if done == nil && ks.backedOffLocked() {
			done = ks.startLocked(context.WithoutCancel(ctx))
		}
		if done == nil {
			err := ks.unavailableLocked()
			ks.mu.Unlock()
			return jose.JSONWebKey{}, err
		}
	}
	ks.mu.Unlock()

	t := time.NewTimer(ks.wait)
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()

	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, found, usable = ks.lookupLocked(kid)
	switch {
	case found && usable:
		return k, nil
	case usable && ks.inflight == nil && ks.failures == 0:
		return jose.JSONWebKey{}, refuse(ReasonUnknownKey, "key id not in the issuer's key set")
	}
	return jose.JSONWebKey{}, ks.unavailableLocked()
}

// lookupLocked finds kid; usable is false when no keys are held or they
// are older than MaxStale.
func (ks *KeySet) lookupLocked(kid string) (k jose.JSONWebKey, found, usable bool) {
	k, found = ks.keys[kid]
	usable = len(ks.keys) > 0 && ks.now().Sub(ks.fetched) < ks.maxStale
	return k, found, usable
}

// backedOffLocked reports whether the backoff after failed fetches (none,
// then 0.5 s, 1 s, 2 s, 2 s, ...) has passed since the last attempt.
func (ks *KeySet) backedOffLocked() bool {
	if ks.failures == 0 {
		return true
	}
	delay := min(firstBackoff<<min(ks.failures-1, 8), maxBackoff)
	return ks.now().Sub(ks.tried) >= delay
}

func (ks *KeySet) unavailableLocked() error {
	err := ks.lastErr
	if ks.inflight != nil {
		err = errors.New("key set fetch still running")
	}
	if err == nil {
		err = errors.New("no key set fetched yet")
	}
	if len(ks.keys) > 0 {
		err = fmt.Errorf("key set older than %s: %w", ks.maxStale, err)
	}
	return &Refusal{Reason: ReasonKeysUnavailable, Err: err}
}

// startLocked starts a fetch under ctx and returns the channel closed when
// it ends. The caller holds mu and has checked that none is running.
func (ks *KeySet) startLocked(ctx context.Context) chan struct{} {
	done := make(chan struct{})
	ks.inflight = done
	ks.tried = ks.now()
	ks.fetches++
	go func() {
		keys, err := ks.fetch(ctx)
		ks.mu.Lock()
		ks.inflight = nil
		failedBefore, held := ks.failures, len(ks.keys)
		if err != nil {
			ks.failures++
			ks.lastErr = err
		} else {
			ks.keys, ks.fetched, ks.failures, ks.lastErr = keys, ks.now(), 0, nil
		}
		ks.mu.Unlock()
		close(done)
		switch {
		case err != nil && failedBefore == 0:
			ks.logger.Warn("auth: cannot fetch the signing keys; retrying with backoff",
				slog.String("url", ks.url), slog.Int("keys_held", held), slog.String("error", err.Error()))
		case err == nil && failedBefore > 0:
			ks.logger.Info("auth: signing keys fetched again", slog.String("url", ks.url), slog.Int("failed_attempts", failedBefore))
		}
	}()
	return done
}

func (ks *KeySet) fetch(ctx context.Context) (map[string]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if len(body) > maxKeySetBytes {
		return nil, fmt.Errorf("key set larger than %d bytes", maxKeySetBytes)
	}
	// Keys are decoded one by one so that a key type this library does not
	// know (issuers add new ones) does not take the whole set down.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.KeyID == "" || !k.IsPublic() || !k.Valid() {
			continue
		}
		keys[k.KeyID] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("key set holds no usable public keys")
	}
	return keys, nil
}
