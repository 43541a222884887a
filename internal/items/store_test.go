package items_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"example.com/example-function/internal/database/dbtest"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newStore(t *testing.T) *items.Store {
	t.Helper()
	return items.NewStore(dbtest.NewPool(t))
}

func TestCreateGetUpdateDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)

	it, err := s.Create(ctx, items.Input{Name: "  Lamp  ", Description: "desk"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if it.ID <= 0 || it.Name != "Lamp" || it.Version != 1 || it.CreatedBy != "alice" || it.UpdatedBy != "alice" {
		t.Fatalf("created %+v", it)
	}
	got, err := s.Get(ctx, it.ID)
	if err != nil || got != it {
		t.Fatalf("get = %+v, %v; want %+v", got, err, it)
	}

	up, err := s.Update(ctx, it.ID, items.Input{Name: "Lamp 2"}, it.Version, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.UpdatedBy != "bob" || up.CreatedBy != "alice" || up.Description != "" || !up.UpdatedAt.After(it.UpdatedAt) && !up.UpdatedAt.Equal(it.UpdatedAt) {
		t.Fatalf("updated %+v", up)
	}

	desc := "patched"
	p, err := s.Apply(ctx, it.ID, items.Patch{Description: &desc}, items.AnyVersion, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Lamp 2" || p.Description != "patched" || p.Version != 3 {
		t.Fatalf("patched %+v", p)
	}

	if err := s.Delete(ctx, it.ID, p.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, it.ID); !errors.Is(err, items.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, it.ID, items.AnyVersion); !errors.Is(err, items.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, 999999, items.Input{Name: "x"}, 1, "bob"); !errors.Is(err, items.ErrNotFound) {
		t.Fatalf("update unknown: %v, want ErrNotFound", err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	cases := []struct {
		name   string
		in     items.Input
		fields []string
	}{
		{"empty name", items.Input{Name: "   "}, []string{"name"}},
		{"long name", items.Input{Name: strings.Repeat("é", items.MaxNameLen+1)}, []string{"name"}},
		{"name at limit is fine", items.Input{Name: strings.Repeat("é", items.MaxNameLen)}, nil},
		{"control char", items.Input{Name: "a\x07b"}, []string{"name"}},
		{"bad utf8 both", items.Input{Name: "a\xffb", Description: "\xfe"}, []string{"name", "description"}},
		{"long description", items.Input{Name: "ok", Description: strings.Repeat("x", items.MaxDescriptionLen+1)}, []string{"description"}},
		{"description at limit", items.Input{Name: "ok", Description: strings.Repeat("ü", items.MaxDescriptionLen)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(ctx, tc.in, "alice")
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var verr *items.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want ValidationError", err)
			}
			var got []string
			for _, f := range verr.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields = %v, want %v", got, tc.fields)
			}
		})
	}
}

// Two editors read version 1; exactly one update wins and the other gets a
// conflict carrying the winner's item.
func TestConcurrentEditorsConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	it, err := s.Create(ctx, items.Input{Name: "shared"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	const editors = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		wins      []items.Item
		conflicts []*items.ConflictError
	)
	for i := range editors {
		wg.Go(func() {
			up, err := s.Update(ctx, it.ID, items.Input{Name: "by editor " + string(rune('A'+i))}, it.Version, "editor")
			mu.Lock()
			defer mu.Unlock()
			var c *items.ConflictError
			switch {
			case err == nil:
				wins = append(wins, up)
			case errors.As(err, &c):
				conflicts = append(conflicts, c)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 || len(conflicts) != editors-1 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and %d", len(wins), len(conflicts), editors-1)
	}
	for _, c := range conflicts {
		if c.Current.Version != 2 || c.Current.Name != wins[0].Name {
			t.Fatalf("conflict reports %+v, want the winner %+v", c.Current, wins[0])
		}
	}
	if err := s.Delete(ctx, it.ID, 1); !errors.As(err, new(*items.ConflictError)) {
		t.Fatalf("stale delete: %v, want conflict", err)
	}
}

// Keyset pages neither repeat nor skip items when new ones arrive between
// page requests.
func TestPaginationAcrossInserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	var want []int64
	for i := range 25 {
		it, err := s.Create(ctx, items.Input{Name: "item " + string(rune('a'+i))}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{it.ID}, want...) // newest first
	}
	var got []int64
	page := items.Page{Limit: 10}
	for n := 0; ; n++ {
		list, next, err := s.List(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range list {
			got = append(got, it.ID)
		}
		// Inserted after the first page: newer than everything listed,
		// so it must not show up on later pages.
		if n == 0 {
			if _, err := s.Create(ctx, items.Input{Name: "late"}, "bob"); err != nil {
				t.Fatal(err)
			}
		}
		if next == nil {
			break
		}
		// Round-trip the cursor through its opaque form, as a client would.
		c, err := items.DecodeCursor(next.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page.After = &c
	}
	if len(got) != len(want) {
		t.Fatalf("got %d items %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("item %d = %d, want %d (got %v)", i, got[i], want[i], got)
		}
	}
}

func TestDecodeCursorRejectsForgeries(t *testing.T) {
	t.Parallel()
	forged := []string{"", "!!!", "bm90LWEtY3Vyc29y", "MTIzNDU", "MTIzLi0x", strings.Repeat("A", 100),
		base64.RawURLEncoding.EncodeToString([]byte("-9223372036854775807.1")),
		base64.RawURLEncoding.EncodeToString([]byte("999999999999999999.1"))}
	for _, c := range forged {
		if _, err := items.DecodeCursor(c); !errors.Is(err, items.ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", c, err)
		}
	}
}

// Search matches names by case-insensitive substring, treats LIKE's
// wildcards literally, and pages through matches by keyset like the full
// list.
func TestListSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for _, n := range []string{"Red lamp", "desk LAMP", "Chair", "100% wool", "1000 wool", "snake_case", "snakeXcase", `back\slash`, "lamp shade"} {
		if _, err := s.Create(ctx, items.Input{Name: n}, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	names := func(q string, limit int) []string {
		t.Helper()
		var got []string
		page := items.Page{Limit: limit, Query: q}
		for {
			list, next, err := s.List(ctx, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range list {
				got = append(got, it.Name)
			}
			if next == nil {
				return got
			}
			page.After = next
		}
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"lamp", []string{"lamp shade", "desk LAMP", "Red lamp"}},
		{"LAMP", []string{"lamp shade", "desk LAMP", "Red lamp"}},
		{"%", []string{"100% wool"}},
		{"0%", []string{"100% wool"}},
		{"_", []string{"snake_case"}},
		{`\`, []string{`back\slash`}},
		{`k\s`, []string{`back\slash`}},
		{"nothing", nil},
		{"", []string{"lamp shade", `back\slash`, "snakeXcase", "snake_case", "1000 wool", "100% wool", "Chair", "desk LAMP", "Red lamp"}},
	}
	for _, tc := range cases {
		for _, limit := range []int{1, 2, 20} {
			if got := names(tc.q, limit); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("search %q (limit %d) = %q, want %q", tc.q, limit, got, tc.want)
			}
		}
	}
}
