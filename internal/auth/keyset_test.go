package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeClock is the key set's and the token checks' clock, moved by the
// test; the code under test runs unchanged, only its sense of time is
// fast-forwarded.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(testNow.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration)         { c.ns.Add(int64(d)) }
func (c *fakeClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// keyEndpoint serves an issuer's key set on a fixed local address that can
// really go down (nothing listening: connection refused) and come back,
// and records the (fake) time of every fetch.
type keyEndpoint struct {
	t     *testing.T
	iss   *fakeIssuer
	clock *fakeClock
	addr  string

	mu      sync.Mutex
	srv     *http.Server
	fetched []time.Time
	gate    chan struct{} // non-nil: requests wait until it closes
}

func newKeyEndpoint(t *testing.T, iss *fakeIssuer, clock *fakeClock) *keyEndpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &keyEndpoint{t: t, iss: iss, clock: clock, addr: ln.Addr().String()}
	e.serve(ln)
	t.Cleanup(e.down)
	return e
}

func (e *keyEndpoint) url() string { return "http://" + e.addr + "/keys" }

func (e *keyEndpoint) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.fetched = append(e.fetched, e.clock.Now())
		gate := e.gate
		e.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		e.iss.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), e.iss.published...)}
		e.iss.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down stops listening: fetches fail with connection refused.
func (e *keyEndpoint) down() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// up listens again on the same address.
func (e *keyEndpoint) up() {
	e.t.Helper()
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		e.t.Fatalf("listen again on %s: %v", e.addr, err)
	}
	e.serve(ln)
}

// hang makes requests wait until release is called.
func (e *keyEndpoint) hang() (release func()) {
	gate := make(chan struct{})
	e.mu.Lock()
	e.gate = gate
	e.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			e.mu.Lock()
			e.gate = nil
			e.mu.Unlock()
			close(gate)
		})
	}
	e.t.Cleanup(release)
	return release
}

func (e *keyEndpoint) fetchTimes() []time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Time(nil), e.fetched...)
}

// issuerMode is one of the two token-verifying sign-in modes, built on a
// fake clock against a key endpoint.
type issuerMode struct {
	name    string
	alg     jose.SignatureAlgorithm
	build   func(t *testing.T, keysURL string, clock *fakeClock) (Authenticator, *KeySet)
	request func(token string) *http.Request
	claims  func(email string, now time.Time) map[string]any
}

var issuerModes = []issuerMode{
	{
		name: "iap", alg: jose.ES256,
		build: func(t *testing.T, keysURL string, clock *fakeClock) (Authenticator, *KeySet) {
			a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: keysURL, Now: clock.Now, KeySet: KeySetOptions{Now: clock.Now}})
			if err != nil {
				t.Fatal(err)
			}
			return a, a.KeySet()
		},
		request: iapRequest,
		claims: func(email string, now time.Time) map[string]any {
			return claimsAt(IAPIssuer, testIAPAudience, email, now)
		},
	},
	{
		name: "cloudrun-iam", alg: jose.RS256,
		build: func(t *testing.T, keysURL string, clock *fakeClock) (Authenticator, *KeySet) {
			a, err := NewCloudRunIAM(CloudRunIAMOptions{Audiences: []string{testServiceURL}, CertsURL: keysURL, Now: clock.Now, KeySet: KeySetOptions{Now: clock.Now}})
			if err != nil {
				t.Fatal(err)
			}
			return a, a.KeySet()
		},
		request: func(token string) *http.Request { return bearer("Bearer " + token) },
		claims: func(email string, now time.Time) map[string]any {
			return claimsAt("https://accounts.google.com", testServiceURL, email, now)
		},
	},
}

func claimsAt(iss string, aud any, email string, now time.Time) map[string]any {
	c := claims(iss, aud, email)
	c["iat"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(8*time.Minute).Unix()
	return c
}

// guarded wraps a 200 handler in the sign-in middleware, as the app does.
func guarded(a Authenticator) http.Handler {
	return Middleware{Authn: a}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
}

// The done-means test of the key sets: the issuer's key endpoint is down
// (nothing listening) for 60 s from cold start, then up. While down every
// signed-in request is 503 with Retry-After (not 401, no challenge), the
// endpoint is asked again on the 0.5 s - 2 s backoff, one fetch at a time;
// a valid token is accepted within 3 s of the endpoint's return; and then,
// with keys held, a flood of tokens naming unknown keys makes at most one
// fetch per flood interval (MinRefresh, 30 s).
func TestKeyEndpointDownThenUp(t *testing.T) {
	t.Parallel()
	for _, mode := range issuerModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			iss := newFakeIssuer(t, mode.alg)
			ep := newKeyEndpoint(t, iss, clock)
			ep.down()
			authn, ks := mode.build(t, ep.url(), clock)
			h := guarded(authn)
			send := func(kid string) *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, mode.request(iss.sign(kid, mode.claims("alice@example.com", clock.Now()))))
				return w
			}
			start := clock.Now()

			// Down for 60 s: a request every 100 ms, and bursts of 20 at once.
			const step = 100 * time.Millisecond
			for clock.Since(start) < 60*time.Second {
				w := send("key-1")
				if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != KeysRetryAfter || w.Header().Get("WWW-Authenticate") != "" {
					t.Fatalf("at %s while down: %d, Retry-After %q, WWW-Authenticate %q; want 503 with Retry-After and no challenge",
						clock.Since(start), w.Code, w.Header().Get("Retry-After"), w.Header().Get("WWW-Authenticate"))
				}
				if clock.Since(start)%(10*time.Second) == 0 {
					before := ks.Fetches()
					var wg sync.WaitGroup
					for range 20 {
						wg.Go(func() {
							if w := send("key-1"); w.Code != http.StatusServiceUnavailable {
								t.Errorf("burst while down: %d, want 503", w.Code)
							}
						})
					}
					wg.Wait()
					if n := ks.Fetches() - before; n > 1 {
						t.Errorf("a burst of 20 requests made %d fetches, want at most 1", n)
					}
				}
				clock.Advance(step)
			}
			// Backoff 0.5, 1, 2, 2, ... s: 31 attempts in 60 s, not one per
			// request (600) and not one per 30 s (2).
			if n := ks.Fetches(); n < 25 || n > 35 {
				t.Errorf("%d fetch attempts in 60 s down, want about 31 (backoff capped at 2 s)", n)
			}

			// Up: accepted within 3 s.
			ep.up()
			back := clock.Now()
			for send("key-1").Code != http.StatusOK {
				if clock.Since(back) > 3*time.Second {
					t.Fatalf("valid token still refused %s after the endpoint came back", clock.Since(back))
				}
				clock.Advance(step)
			}
			t.Logf("accepted %s after the endpoint came back, %d fetch attempts", clock.Since(back), ks.Fetches())

			// Flood of unknown key ids for 5 minutes, with keys held. The
			// key is looked up before any signature check, so one real
			// signature under many invented headers makes the flood cheap.
			attacker := signWith(t, mode.alg, iss.newKey(), "invented", mode.claims("m@example.com", clock.Now()))
			floodStart := clock.Now()
			for i := 0; clock.Since(floodStart) < 5*time.Minute; i++ {
				var wg sync.WaitGroup
				for j := range 10 {
					wg.Go(func() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, mode.request(withKid(t, attacker, mode.alg, fmt.Sprintf("invented-%d-%d", i, j))))
						if w.Code != http.StatusUnauthorized {
							t.Errorf("invented kid: %d, want 401", w.Code)
						}
					})
				}
				wg.Wait()
				if i%30 == 0 {
					if w := send("key-1"); w.Code != http.StatusOK {
						t.Errorf("valid token during the flood: %d", w.Code)
					}
				}
				clock.Advance(time.Second)
			}
			var during []time.Time
			for _, at := range ep.fetchTimes() {
				if !at.Before(floodStart) {
					during = append(during, at)
				}
			}
			for i := 1; i < len(during); i++ {
				if gap := during[i].Sub(during[i-1]); gap < defaultMinRefresh {
					t.Errorf("fetches %s apart during the flood, want at least %s", gap, defaultMinRefresh)
				}
			}
			t.Logf("%d fetches during a 5-minute flood of 3,000 unknown key ids", len(during))
			if len(during) > 11 {
				t.Errorf("%d fetches in a 5-minute flood, want at most 11 (one per 30 s)", len(during))
			}
		})
	}
}

// At cold start a request waits at most a second for the first fetch,
// whatever the endpoint does; requests meanwhile share that one fetch.
func TestColdStartWaitsAtMostASecond(t *testing.T) {
	t.Parallel()
	iss := newFakeIssuer(t, jose.ES256)
	ep := newKeyEndpoint(t, iss, newFakeClock())
	release := ep.hang()
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: ep.url(), Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	h := guarded(a)
	tok := iss.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com"))
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			start := time.Now()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, iapRequest(tok))
			if took := time.Since(start); w.Code != http.StatusServiceUnavailable || took > 2500*time.Millisecond {
				t.Errorf("cold start against a hanging endpoint: %d after %s, want 503 after about 1 s", w.Code, took)
			}
		})
	}
	wg.Wait()
	if n := a.KeySet().Fetches(); n != 1 {
		t.Errorf("%d fetches, want 1 shared by every request", n)
	}
	release()
	waitIdle(t, a.KeySet())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, iapRequest(tok))
	if w.Code != http.StatusOK {
		t.Fatalf("after the fetch completed: %d", w.Code)
	}
}

// An hour-old set is refreshed in the background: requests do not wait on
// a hanging endpoint. Past MaxStale (24 h) without a successful fetch the
// set is given up: 503 until a fetch succeeds.
func TestStaleKeysServeInTheBackgroundUntilMaxStale(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	iss := newFakeIssuer(t, jose.ES256)
	ep := newKeyEndpoint(t, iss, clock)
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: ep.url(), Now: clock.Now, KeySet: KeySetOptions{Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	h := guarded(a)
	send := func() (int, time.Duration) {
		start := time.Now()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, iapRequest(iss.sign("key-1", claimsAt(IAPIssuer, testIAPAudience, "a@example.com", clock.Now()))))
		return w.Code, time.Since(start)
	}
	if code, _ := send(); code != http.StatusOK {
		t.Fatalf("fresh keys: %d", code)
	}

	release := ep.hang()
	clock.Advance(2 * time.Hour)
	for range 3 {
		if code, took := send(); code != http.StatusOK || took > 500*time.Millisecond {
			t.Fatalf("2 h old keys, endpoint hanging: %d after %s, want 200 at once", code, took)
		}
	}
	clock.Advance(21 * time.Hour) // 23 h old
	if code, took := send(); code != http.StatusOK || took > 500*time.Millisecond {
		t.Fatalf("23 h old keys: %d after %s, want 200 at once", code, took)
	}
	clock.Advance(2 * time.Hour) // 25 h old
	if code, _ := send(); code != http.StatusServiceUnavailable {
		t.Fatalf("25 h old keys: %d, want 503", code)
	}
	release()
	waitIdle(t, a.KeySet())
	clock.Advance(3 * time.Second) // past the backoff
	if code, _ := send(); code != http.StatusOK {
		t.Fatalf("after a successful fetch: %d, want 200", code)
	}
	if err := a.KeySet().Warm(context.Background()); err != nil {
		t.Fatalf("Warm with the endpoint answering: %v", err)
	}
	var refusal *Refusal
	ep.down()
	clock.Advance(30 * time.Hour)
	if _, err := a.KeySet().Key(context.Background(), "key-1"); !errors.As(err, &refusal) || refusal.Reason != ReasonKeysUnavailable {
		t.Fatalf("30 h old keys, endpoint refusing: %v, want keys_unavailable", err)
	}
}

// withKid returns tok with its header replaced by one naming kid.
func withKid(t *testing.T, tok string, alg jose.SignatureAlgorithm, kid string) string {
	t.Helper()
	h, err := json.Marshal(map[string]string{"alg": string(alg), "kid": kid, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(tok, ".")
	return base64.RawURLEncoding.EncodeToString(h) + "." + rest
}
