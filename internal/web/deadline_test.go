package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

// stallApp is the service as internal/app wires it, on a real PostgreSQL
// and a real HTTP server, with a short request deadline.
type stallApp struct {
	url     string // the database's, direct
	proxy   *refusingProxy
	srv     *httptest.Server
	db      *database.DB
	reader  *sdkmetric.ManualReader
	logs    *lockedBuffer
	itemID  int64
	version int64
}

// newStallApp serves the app with request deadline d; the pool's
// connections tell PostgreSQL serverTimeout (as the app sets it, d). With
// viaProxy the pool reaches the server through a refusingProxy.
func newStallApp(t *testing.T, d, serverTimeout time.Duration, maxConns int, viaProxy bool) *stallApp {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	a := &stallApp{url: pgtest.NewDatabase(t), logs: &lockedBuffer{}}
	poolURL := a.url
	if viaProxy {
		a.proxy = newRefusingProxy(t, a.url)
		poolURL = a.proxy.url
	}
	db, err := database.Open(ctx, config.Database{
		URL: poolURL, MaxConns: maxConns, ConnectTimeout: 5 * time.Second,
		MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Hour, HealthCheckPeriod: time.Minute,
		RequestTimeout: serverTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	a.db = db
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	a.reader = sdkmetric.NewManualReader()
	tel := &telemetry.Telemetry{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(a.reader))}
	metrics, err := items.NewMetrics(tel.MeterProvider)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(a.logs, nil))
	checker := database.NewChecker(db.Pool.Ping, d, logger)
	checker.SetMigrated()
	store := items.NewStore(db.Pool)
	h, err := web.NewHandler(web.Deps{
		Items: store, Health: checker, Events: metrics, Logger: logger, DatabaseTimeout: d,
		Authn: auth.Dev{User: auth.User{Name: "alice"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.srv = httptest.NewServer(h)
	t.Cleanup(a.srv.Close)
	it, err := store.Create(ctx, items.Input{Name: "lamp"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a.itemID, a.version = it.ID, it.Version
	return a
}

// lock takes an ACCESS EXCLUSIVE lock on items, as a long migration,
// VACUUM FULL or a stuck transaction does, until the returned func runs.
func (a *stallApp) lock(t *testing.T) (release func()) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), a.url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = conn.Close(context.Background()) }) }
	t.Cleanup(release)
	return release
}

type stallRequest struct {
	name, method, path, contentType, body string
	header                                []string
	ok                                    int // status once the database answers
}

func (a *stallApp) requests(tag string) []stallRequest {
	id := strconv.FormatInt(a.itemID, 10)
	return []stallRequest{
		{name: "API list", method: "GET", path: "/api/items", ok: 200},
		{name: "API search", method: "GET", path: "/api/items?q=lamp", ok: 200},
		{name: "API get", method: "GET", path: "/api/items/" + id, ok: 200},
		{name: "API create", method: "POST", path: "/api/items", contentType: "application/json", body: `{"name":"api ` + tag + `"}`, ok: 201},
		{name: "API patch", method: "PATCH", path: "/api/items/" + id, contentType: "application/merge-patch+json", body: `{"description":"` + tag + `"}`, header: []string{"If-Match", "*"}, ok: 200},
		{name: "page list", method: "GET", path: "/", ok: 200},
		{name: "page item", method: "GET", path: "/items/" + id, ok: 200},
		{name: "page create", method: "POST", path: "/items", contentType: formType, body: form("name", "page "+tag), ok: 303},
	}
}

type stallAnswer struct {
	status     int
	header     http.Header
	body       string
	took       time.Duration
	requestErr error
}

func (a *stallApp) send(req stallRequest) stallAnswer {
	r, err := http.NewRequest(req.method, a.srv.URL+req.path, strings.NewReader(req.body))
	if err != nil {
		return stallAnswer{requestErr: err}
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	for i := 0; i+1 < len(req.header); i += 2 {
		r.Header.Set(req.header[i], req.header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	res, err := client.Do(r)
	if err != nil {
		return stallAnswer{requestErr: err, took: time.Since(start)}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return stallAnswer{status: res.StatusCode, header: res.Header, body: string(b), took: time.Since(start)}
}

// The done-means test of the request deadline: while the items table is
// locked far longer than the 300 ms deadline, API and page requests are
// answered 503 database-timeout within the deadline plus 2 s (more of them
// at once than the pool has connections, so some time out waiting for
// one), each is logged and counted by reason, /healthz stays 200 and
// /readyz answers in time; once the lock goes, the same requests succeed
// at once, without a restart.
func TestStalledDatabaseAnswers503InTime(t *testing.T) {
	t.Parallel()
	const deadline = 300 * time.Millisecond
	a := newStallApp(t, deadline, deadline, 2, false)
	release := a.lock(t)

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[string]stallAnswer{}
	)
	for round := range 2 {
		for _, req := range a.requests("stalled " + strconv.Itoa(round)) {
			wg.Go(func() {
				ans := a.send(req)
				mu.Lock()
				answers[req.name+" #"+strconv.Itoa(round)] = ans
				mu.Unlock()
			})
		}
	}
	start := time.Now()
	for time.Since(start) < deadline { // probes during the stall
		ans := a.send(stallRequest{method: "GET", path: "/healthz"})
		if ans.status != 200 || ans.took > time.Second {
			t.Errorf("/healthz during the stall: %d after %s", ans.status, ans.took)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if ans := a.send(stallRequest{method: "GET", path: "/readyz"}); ans.requestErr != nil || ans.took > deadline+2*time.Second {
		t.Errorf("/readyz during the stall: %d after %s (%v)", ans.status, ans.took, ans.requestErr)
	}

	var slowest time.Duration
	for _, ans := range answers {
		slowest = max(slowest, ans.took)
	}
	t.Logf("%d requests under the lock, all answered within %s (deadline %s)", len(answers), slowest, deadline)
	for name, ans := range answers {
		if ans.requestErr != nil {
			t.Errorf("%s: %v", name, ans.requestErr)
			continue
		}
		if ans.status != http.StatusServiceUnavailable || ans.header.Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q, want 503 with Retry-After; %s", name, ans.status, ans.header.Get("Retry-After"), ans.body)
		}
		if ans.took > deadline+2*time.Second {
			t.Errorf("%s: answered after %s, want at most the deadline plus 2 s", name, ans.took)
		}
		if strings.HasPrefix(name, "API") {
			var p problemBody
			if err := json.Unmarshal([]byte(ans.body), &p); err != nil || p.Type != web.ProblemTypeBase+"database-timeout" ||
				ans.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s: %s %q, want a database-timeout problem", name, ans.header.Get("Content-Type"), ans.body)
			}
		} else if !strings.Contains(ans.body, "503") || ans.header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: %q, want the 503 page", name, ans.body)
		}
	}

	counted := a.timeouts(t)
	t.Logf("counted by reason: %v", counted)
	var total int64
	for reason, n := range counted {
		if reason == "" {
			t.Errorf("%d timeouts counted without a reason", n)
		}
		total += n
	}
	if total != int64(len(answers)) {
		t.Errorf("metric counted %d timeouts %v, want %d (one per 503)", total, counted, len(answers))
	}
	if n := strings.Count(a.logs.String(), `"msg":"database timeout"`); n != len(answers) {
		t.Errorf("%d timeouts logged, want %d", n, len(answers))
	}
	for _, reason := range []string{items.TimeoutAcquire, items.TimeoutLockNotAvailable} {
		if !strings.Contains(a.logs.String(), `"reason":"`+reason+`"`) {
			t.Errorf("no timeout logged with reason %s: %s", reason, a.logs.String())
		}
	}

	release()
	for _, req := range a.requests("after") {
		if ans := a.send(req); ans.status != req.ok {
			t.Errorf("%s after the stall: %d, want %d; %s", req.name, ans.status, req.ok, ans.body)
		}
	}
	// The probe's check is cached for a second and bounded by the deadline:
	// one that ran out during the stall may answer for a moment longer.
	var ready stallAnswer
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if ready = a.send(stallRequest{method: "GET", path: "/readyz"}); ready.status == 200 {
			break
		}
	}
	if ready.status != 200 {
		t.Errorf("/readyz after the stall: %d %s", ready.status, ready.body)
	}
}

// /readyz answers within its check timeout, 503, when the pool cannot
// hand out a connection, rather than waiting as long as the pool would.
func TestReadyzIsBoundedWhenThePoolIsExhausted(t *testing.T) {
	t.Parallel()
	const deadline = 300 * time.Millisecond
	a := newStallApp(t, deadline, deadline, 1, false)
	conn, err := a.db.Pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	ans := a.send(stallRequest{method: "GET", path: "/readyz"})
	if ans.status != http.StatusServiceUnavailable || ans.took > deadline+2*time.Second {
		t.Fatalf("/readyz with no connection to spare: %d after %s; %s", ans.status, ans.took, ans.body)
	}
	var body struct {
		Ready    bool           `json:"ready"`
		Database database.State `json:"database"`
	}
	if err := json.Unmarshal([]byte(ans.body), &body); err != nil || body.Ready {
		t.Fatalf("/readyz body %q: %v", ans.body, err)
	}
}

// Retry semantics of a POST answered 503 database-timeout: it was applied
// at most once, and usually not at all. With the service's settings the
// server ends the lock wait first (lock_timeout at 4/5 of the deadline);
// when the client's deadline passes first, pgx cancels the statement on the
// server before closing the connection. Only when that cancel cannot reach
// the server (a network partition, modelled by a proxy refusing new
// connections) does the insert complete after the client was told 503:
// present, once.
func TestTimedOutPostIsAppliedAtMostOnce(t *testing.T) {
	t.Parallel()
	const deadline = 300 * time.Millisecond
	for _, tc := range []struct {
		name          string
		serverTimeout time.Duration
		cancelLost    bool
		want          int
	}{
		{"server ends the lock wait first (the service's settings)", deadline, false, 0},
		{"client deadline first, pgx cancels the statement", 5 * time.Second, false, 0},
		{"client deadline first, the cancel request is lost", 5 * time.Second, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// One connection, whose INSERT statement is already prepared
			// (as on a warm instance): the POST waits in its execution.
			a := newStallApp(t, deadline, tc.serverTimeout, 1, true)
			if ans := a.send(stallRequest{method: "POST", path: "/api/items", contentType: "application/json", body: `{"name":"warm-up"}`}); ans.status != 201 {
				t.Fatalf("warm-up POST: %d %s", ans.status, ans.body)
			}
			if tc.cancelLost {
				a.proxy.refuseNew()
			}
			const lockFor = 800 * time.Millisecond
			release := a.lock(t)
			time.AfterFunc(lockFor, release)
			ans := a.send(stallRequest{method: "POST", path: "/api/items", contentType: "application/json", body: `{"name":"exactly once"}`})
			if ans.status != http.StatusServiceUnavailable || !strings.Contains(ans.body, "database-timeout") {
				t.Fatalf("POST under the lock: %d %s", ans.status, ans.body)
			}
			// Past the lock, whatever the server was going to do is done.
			time.Sleep(lockFor + time.Second)
			var n int
			if err := a.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM items WHERE name = 'exactly once'").Scan(&n); err != nil &&
				!tc.cancelLost {
				t.Fatal(err)
			}
			if tc.cancelLost { // the pool cannot connect any more: ask directly
				conn, err := pgx.Connect(t.Context(), a.url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM items WHERE name = 'exactly once'").Scan(&n); err != nil {
					t.Fatal(err)
				}
			}
			if n != tc.want {
				t.Fatalf("timed-out POST stored %d times, want %d", n, tc.want)
			}
		})
	}
}

// refusingProxy forwards TCP connections to a PostgreSQL server until
// refuseNew; connections opened before keep working.
type refusingProxy struct {
	url    string
	refuse atomic.Bool
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newRefusingProxy(t *testing.T, dbURL string) *refusingProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &refusingProxy{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	p.url = u.String()
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *refusingProxy) refuseNew() { p.refuse.Store(true) }

func (p *refusingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(s, c); _ = s.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, s); _ = c.Close() })
	}
}

func (p *refusingProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// timeouts reads the database timeout counter by reason.
func (a *stallApp) timeouts(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := a.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != items.MetricDBTimeouts {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := p.Attributes.Value(items.AttrTimeoutReason)
				out[v.AsString()] += p.Value
			}
		}
	}
	return out
}

// lockedBuffer is a bytes.Buffer safe for the handlers' concurrent logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
