package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeySet is an issuer's published JSON Web Key Set, fetched on first use,
// cached, and fetched again when a token names a key it does not hold (the
// issuer rotated its keys) or when the cache is older than MaxAge.
//
// Refetches are rate limited: whatever tokens arrive, the endpoint is asked
// at most once per MinRefresh, so a flood of tokens with invented key ids
// cannot turn the service into an amplifier against the issuer. Concurrent
// requests share one fetch.
type KeySet struct {
	url    string
	client *http.Client
	// MinRefresh is the shortest interval between two fetches.
	minRefresh time.Duration
	// MaxAge is how long a fetched set is used before it is fetched again
	// in the request path (stale keys stay in use if that fetch fails).
	maxAge time.Duration
	now    func() time.Time

	fetchMu sync.Mutex // serialises fetches; never held with mu
	mu      sync.Mutex // guards the fields below
	keys    map[string]jose.JSONWebKey
	fetched time.Time // last successful fetch
	tried   time.Time // last fetch attempt
	fetches int       // number of fetch attempts, for tests and metrics
}

// KeySetOptions tunes a KeySet; zero values pick the defaults.
type KeySetOptions struct {
	Client     *http.Client     // default: 10 s timeout
	MinRefresh time.Duration    // default 30 s
	MaxAge     time.Duration    // default 1 h
	Now        func() time.Time // default time.Now
}

// Limits on what a key set endpoint may send back.
const (
	maxKeySetBytes = 1 << 20
	fetchTimeout   = 10 * time.Second
)

// NewKeySet returns a KeySet for the JWK set published at url.
func NewKeySet(url string, o KeySetOptions) *KeySet {
	ks := &KeySet{url: url, client: o.Client, minRefresh: o.MinRefresh, maxAge: o.MaxAge, now: o.Now}
	if ks.client == nil {
		ks.client = &http.Client{Timeout: fetchTimeout}
	}
	if ks.minRefresh <= 0 {
		ks.minRefresh = 30 * time.Second
	}
	if ks.maxAge <= 0 {
		ks.maxAge = time.Hour
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	return ks
}

// Fetches reports how many times the endpoint has been asked.
func (ks *KeySet) Fetches() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// Warm fetches the set now, so the first signed-in request does not wait
// for it. A failure is not fatal: the next request tries again. Unlike a
// request's fetch, Warm stops when ctx ends, so shutdown never waits on a
// slow key endpoint.
func (ks *KeySet) Warm(ctx context.Context) error { return ks.refresh(ctx, false) }

// Key returns the public key with the given key id. It fetches the set when
// it has none, when it is older than MaxAge, or when kid is unknown, subject
// to the MinRefresh rate limit. The error is a *Refusal with
// ReasonUnknownKey or ReasonKeysUnavailable.
func (ks *KeySet) Key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	k, found, fresh := ks.lookup(kid)
	if found && fresh {
		return k, nil
	}
	fetchErr := ks.refresh(ctx, true)
	if k2, found2, _ := ks.lookup(kid); found2 {
		return k2, nil
	}
	if found && fetchErr != nil {
		// Stale but known, and the endpoint did not answer: better than
		// refusing every caller while it is down.
		return k, nil
	}
	if fetchErr != nil && !ks.hasKeys() {
		return jose.JSONWebKey{}, &Refusal{Reason: ReasonKeysUnavailable, Err: fetchErr}
	}
	return jose.JSONWebKey{}, refuse(ReasonUnknownKey, "key id not in the issuer's key set")
}

func (ks *KeySet) lookup(kid string) (k jose.JSONWebKey, found, fresh bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, found = ks.keys[kid]
	fresh = !ks.fetched.IsZero() && ks.now().Sub(ks.fetched) < ks.maxAge
	return k, found, fresh
}

func (ks *KeySet) hasKeys() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return len(ks.keys) > 0
}

// refresh fetches the set unless another fetch happened within MinRefresh.
// Callers that queue behind a running fetch reuse its result. detach lets
// the fetch outlive ctx (see fetch).
func (ks *KeySet) refresh(ctx context.Context, detach bool) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()

	ks.mu.Lock()
	now := ks.now()
	if !ks.tried.IsZero() && now.Sub(ks.tried) < ks.minRefresh {
		ks.mu.Unlock()
		return errors.New("key set fetched recently; not asking again yet")
	}
	ks.tried = now
	ks.fetches++
	ks.mu.Unlock()

	keys, err := ks.fetch(ctx, detach)
	if err != nil {
		return err
	}
	ks.mu.Lock()
	ks.keys = keys
	ks.fetched = ks.now()
	ks.mu.Unlock()
	return nil
}

func (ks *KeySet) fetch(ctx context.Context, detach bool) (map[string]jose.JSONWebKey, error) {
	// A request's context may be about to end; a fetch that benefits every
	// later request should not die with one impatient client.
	if detach {
		ctx = context.WithoutCancel(ctx)
	}
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
