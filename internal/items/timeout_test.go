package items_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/items"
)

// Every way a database call runs out of time is told apart, from a real
// server: the wait for a pool connection, the client's deadline during a
// statement, and the server's own statement and lock timeouts.
func TestTimeoutReasons(t *testing.T) {
	t.Parallel()
	url := migratedURL(t)
	// Subtests run in parallel after this function returns: everything
	// they share is released by Cleanup, once they are done.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	locker, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Close(context.Background()) })
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	busy := newPool(t, url+"&pool_max_conns=1", nil)
	held, err := busy.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Release)

	tests := []struct {
		name string
		pool *pgxpool.Pool
		want string
	}{
		{"pool wait", busy, items.TimeoutAcquire},
		{"client deadline in a statement", newPool(t, url, nil), items.TimeoutQuery},
		{"statement_timeout", newPool(t, url, map[string]string{"statement_timeout": "100"}), items.TimeoutQueryCanceled},
		{"lock_timeout", newPool(t, url, map[string]string{"lock_timeout": "100"}), items.TimeoutLockNotAvailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := items.NewStore(tc.pool)
			for _, call := range []func(context.Context) error{
				func(ctx context.Context) error { _, _, err := s.List(ctx, items.Page{Limit: 20}); return err },
				func(ctx context.Context) error {
					_, _, err := s.List(ctx, items.Page{Limit: 20, Query: "lamp"})
					return err
				},
				func(ctx context.Context) error { _, err := s.Get(ctx, 1); return err },
				func(ctx context.Context) error { _, err := s.Create(ctx, items.Input{Name: "x"}, "alice"); return err },
			} {
				rctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
				err := call(rctx)
				cancel()
				if got := items.TimeoutReason(err); got != tc.want {
					t.Errorf("TimeoutReason(%v) = %q, want %q", err, got, tc.want)
				}
				if !items.IsUnavailable(err) && tc.want != items.TimeoutQueryCanceled && tc.want != items.TimeoutLockNotAvailable {
					t.Errorf("IsUnavailable(%v) = false", err)
				}
			}
		})
	}
	for _, err := range []error{nil, errors.New("syntax"), items.ErrNotFound, context.Canceled} {
		if r := items.TimeoutReason(err); r != "" {
			t.Errorf("TimeoutReason(%v) = %q, want none", err, r)
		}
	}
}
