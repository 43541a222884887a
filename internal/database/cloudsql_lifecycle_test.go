package database_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/cloudsqltest"
)

// The connector's lazy cache refreshes four minutes before the client
// certificate expires; a lifetime of refreshBuffer+window makes the first
// certificate go stale after window.
const refreshBuffer = 4 * time.Minute

// TestCloudSQLLazyRefresh: no Admin API call until the first connection; new
// connections reuse the certificate while it is fresh; once it is about to
// expire the next connection refreshes it. The expiry may come from the
// certificate itself or, with IAM login, from the login token.
func TestCloudSQLLazyRefresh(t *testing.T) {
	t.Parallel()
	const window = 5 * time.Second
	cases := []struct {
		name  string
		setup func(t *testing.T) (*instance, []cloudsqlconn.Option)
	}{
		{"certificate expiry", func(t *testing.T) (*instance, []cloudsqlconn.Option) {
			in := newInstance(t, cloudsqltest.Options{CertLifetime: refreshBuffer + window})
			return in, in.fake.DialerOptions()
		}},
		{"IAM login token expiry", func(t *testing.T) (*instance, []cloudsqlconn.Option) {
			in, _ := iamInstance(t, map[string]string{"short-lived": ""})
			tok := &staticTokens{tok: "short-lived", expiry: time.Now().Add(refreshBuffer + window)}
			return in, in.fake.IAMDialerOptions(tok)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, opts := tc.setup(t)
			db := open(t, in.config(t, nil), database.WithDialerOptions(opts...))
			ctx := ctxT(t)
			if got := in.fake.Calls(); got != (cloudsqltest.Calls{}) {
				t.Fatalf("Admin API calls before the first query = %+v, want none", got)
			}
			stale := time.Now().Add(window)
			ping := func() {
				t.Helper()
				db.Pool.Reset() // drop pooled connections: the next query dials
				if err := db.Pool.Ping(ctx); err != nil {
					t.Fatalf("ping: %v", err)
				}
			}
			ping()
			ping()
			if time.Now().After(stale) {
				t.Fatalf("two connections took over %s: the certificate went stale before the test could check reuse", window)
			}
			if got, want := in.fake.Calls(), (cloudsqltest.Calls{ConnectSettings: 1, GenerateEphemeralCert: 1}); got != want {
				t.Fatalf("two connections with a fresh certificate made %+v Admin API calls, want %+v", got, want)
			}
			if n := len(in.fake.Dialed()); n != 2 {
				t.Fatalf("dialed %d times, want 2 (one per connection)", n)
			}
			time.Sleep(time.Until(stale) + 500*time.Millisecond)
			ping()
			if got, want := in.fake.Calls(), (cloudsqltest.Calls{ConnectSettings: 2, GenerateEphemeralCert: 2}); got != want {
				t.Fatalf("after expiry: %+v Admin API calls, want %+v (one refresh)", got, want)
			}
		})
	}
}

// TestCloudSQLConcurrentFirstQueries: a burst of first requests, each
// needing its own connection, shares one certificate refresh.
func TestCloudSQLConcurrentFirstQueries(t *testing.T) {
	t.Parallel()
	const n = 16
	in := newInstance(t, cloudsqltest.Options{})
	db := open(t, in.config(t, map[string]string{"DB_MAX_CONNS": "16"}), database.WithDialerOptions(in.fake.DialerOptions()...))
	ctx := ctxT(t)

	start, release := make(chan struct{}), make(chan struct{})
	var held, done sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		held.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			<-start
			conn, err := db.Pool.Acquire(ctx)
			held.Done()
			if err != nil {
				errs <- err
				return
			}
			defer conn.Release()
			// Hold the connection until all have one, so each needs its own dial.
			<-release
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	held.Wait()
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent first query: %v", err)
	}
	if got, want := in.fake.Calls(), (cloudsqltest.Calls{ConnectSettings: 1, GenerateEphemeralCert: 1}); got != want {
		t.Errorf("%d concurrent first connections made %+v Admin API calls, want %+v", n, got, want)
	}
	if got := len(in.fake.Dialed()); got != n {
		t.Errorf("dialed %d times, want %d", got, n)
	}
}

// connectErrors is a pgx tracer that records failed connection attempts,
// including those the pool makes in the background.
type connectErrors struct {
	mu   sync.Mutex
	errs []error
}

func (c *connectErrors) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *connectErrors) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *connectErrors) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (c *connectErrors) TraceConnectEnd(_ context.Context, d pgx.TraceConnectEndData) {
	if d.Err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, d.Err)
		c.mu.Unlock()
	}
}

func (c *connectErrors) dialerClosed() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []error
	for _, err := range c.errs {
		if errors.Is(err, cloudsqlconn.ErrDialerClosed) || strings.Contains(err.Error(), "dialer is closed") {
			out = append(out, err)
		}
	}
	return out
}

// churn keeps a pool busy and dialing (short-lived connections plus a
// minimum pool size make it reconnect in the background) until stop.
func churn(ctx context.Context, pool *pgxpool.Pool, stop <-chan struct{}) (wait func() []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := pool.Exec(ctx, "SELECT pg_sleep(0.002)"); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					if strings.Contains(err.Error(), "closed pool") {
						return
					}
				}
			}
		})
	}
	return func() []error { wg.Wait(); return errs }
}

var churnEnv = map[string]string{
	"DB_MAX_CONNS":           "4",
	"DB_MIN_CONNS":           "2",
	"DB_MAX_CONN_LIFETIME":   "30ms",
	"DB_HEALTH_CHECK_PERIOD": "10ms",
}

// TestCloudSQLCloseOrder: Close under load closes the pool first, so no
// connection attempt ever meets a closed dialer, and every proxied
// connection is closed when Close returns.
func TestCloudSQLCloseOrder(t *testing.T) {
	t.Parallel()
	in := newInstance(t, cloudsqltest.Options{})
	tracer := &connectErrors{}
	db := open(t, in.config(t, churnEnv), database.WithDialerOptions(in.fake.DialerOptions()...), database.WithTracer(func(string) pgx.QueryTracer { return tracer }))
	ctx := ctxT(t)
	if err := db.Pool.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	stop := make(chan struct{})
	wait := churn(ctx, db.Pool, stop)
	waitFor(t, "the pool to reconnect under load", func() bool { return len(in.fake.Dialed()) >= 10 })
	db.Close()
	close(stop)
	for _, err := range wait() {
		// In-flight work ends with the pool: a closed pool, or a connection
		// attempt cancelled by it. Anything else is a shutdown bug.
		if msg := err.Error(); !strings.Contains(msg, "closed pool") && !strings.Contains(msg, "cancel") {
			t.Errorf("query during shutdown failed with something other than a closed pool: %v", err)
		}
	}
	if errs := tracer.dialerClosed(); len(errs) > 0 {
		t.Errorf("%d connection attempts met a closed dialer, first: %v", len(errs), errs[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for in.fake.OpenConns() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := in.fake.OpenConns(); n > 0 {
		t.Errorf("%d connections still open at the instance after Close", n)
	}
}

// TestCloudSQLWrongCloseOrderIsDetected is the control for TestCloudSQLCloseOrder:
// closing the dialer before the pool, under the same load, does produce
// "dialer is closed" errors, so their absence above means something.
func TestCloudSQLWrongCloseOrderIsDetected(t *testing.T) {
	t.Parallel()
	in := newInstance(t, cloudsqltest.Options{})
	c := in.config(t, churnEnv)
	ctx := ctxT(t)
	d, err := cloudsqlconn.NewDialer(ctx, append([]cloudsqlconn.Option{cloudsqlconn.WithLazyRefresh()}, in.fake.DialerOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pgxpool.ParseConfig("user=postgres password=x dbname=" + c.Name + " sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns, pc.MinConns = int32(c.MaxConns), int32(c.MinConns)
	pc.MaxConnLifetime, pc.HealthCheckPeriod = c.MaxConnLifetime, c.HealthCheckPeriod
	tracer := &connectErrors{}
	pc.ConnConfig.Tracer = tracer
	pc.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.Dial(ctx, in.fake.ConnectionName())
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	stop := make(chan struct{})
	wait := churn(ctx, pool, stop)
	waitFor(t, "the pool to reconnect under load", func() bool { return len(in.fake.Dialed()) >= 10 })
	_ = d.Close() // the wrong way round
	deadline := time.Now().Add(5 * time.Second)
	for len(tracer.dialerClosed()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pool.Close()
	close(stop)
	wait()
	if len(tracer.dialerClosed()) == 0 {
		t.Fatal("closing the dialer first produced no \"dialer is closed\" errors: the close-order test cannot see the fault")
	}
}

// waitFor polls cond for up to 10 seconds and fails the test if it never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
