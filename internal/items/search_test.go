package items_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
)

// migratedURL returns a fresh, migrated database's URL.
func migratedURL(t *testing.T) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	pool := newPool(t, url, nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := database.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return url
}

// newPool opens a pool on url whose sessions carry params.
func newPool(t *testing.T, url string, params map[string]string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// The trigram index changes how a search is answered, not what it
// answers: on names full of LIKE's special characters, mixed case and
// non-ASCII letters, every query pages through the same items, in the same
// order, as the newest-first walk the search used before the index.
func TestSearchThroughTheIndexMatchesTheWalk(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	url := migratedURL(t)
	// Planner settings that leave one route each: bitmap scans (the only
	// way a GIN index is read) or none of them.
	indexed := items.NewStore(newPool(t, url, map[string]string{"enable_seqscan": "off", "enable_indexscan": "off"}))
	walked := newPool(t, url, map[string]string{"enable_bitmapscan": "off"})

	pieces := []string{"Lamp", "lamp", "LAMP", "desk", "Straße", "STRASSE", "Éclair", "éclair", "ÉCLAIR", "İstanbul", "ıi",
		"Σοφία", "σοφίας", "ΣΟΦΙΑΣ", "Москва", "москва", "東京", "😀", "e\u0301", "100%", "%off", "50%_", "snake_case", "a_b",
		`back\slash`, `\\`, `\%`, `\_`, "%%", "__", "x", "ab", "abc", "naïve", "NAÏVE", "Ǆ", "ǆ", "ﬁ", "fi"}
	rng := rand.New(rand.NewPCG(1, 2))
	store := items.NewStore(walked)
	var names []string
	for range 300 {
		n := 1 + rng.IntN(3)
		var parts []string
		for range n {
			parts = append(parts, pieces[rng.IntN(len(pieces))])
		}
		sep := []string{" ", "", "-", "_", "%"}[rng.IntN(5)]
		name := strings.Join(parts, sep)
		names = append(names, name)
		if _, err := store.Create(ctx, items.Input{Name: name}, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := walked.Exec(ctx, "ANALYZE items"); err != nil {
		t.Fatal(err)
	}

	queries := append([]string{}, pieces...)
	queries = append(queries, "%", "_", `\`, "%_", `_%`, `\%`, "e", "É", "é", "ß", "ss", "σ", "ς", "i", "İ", "I", "ı",
		"amp", "AMP", "ampde", "ESK", "lamp-desk", "straße lamp", "nothing at all", "💥", "\u0301", "ﬁ", "Ǆ", "ǅ")
	for range 40 { // random substrings of stored names, case flipped
		rs := []rune(names[rng.IntN(len(names))])
		i := rng.IntN(len(rs))
		j := i + 1 + rng.IntN(min(6, len(rs)-i))
		q := string(rs[i:j])
		if rng.IntN(2) == 0 {
			q = strings.ToUpper(q)
		}
		if strings.TrimSpace(q) == q && q != "" {
			queries = append(queries, q)
		}
	}

	// walk pages through a search the way the API did before the index: the
	// same statement texts, cached, with the index out of reach.
	walk := func(q string) []int64 {
		t.Helper()
		var ids []int64
		page := items.Page{Limit: 3, Query: q}
		for {
			sql, args := items.ListQuery(page)
			args = slices.DeleteFunc(args, func(a any) bool { _, mode := a.(pgx.QueryExecMode); return mode })
			rows, err := walked.Query(ctx, sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (items.Item, error) {
				var it items.Item
				var ignore any
				err := r.Scan(&it.ID, &ignore, &ignore, &ignore, &it.CreatedAt, &ignore, &ignore, &ignore)
				return it, err
			})
			if err != nil {
				t.Fatal(err)
			}
			more := len(list) > page.Limit
			if more {
				list = list[:page.Limit]
			}
			for _, it := range list {
				ids = append(ids, it.ID)
			}
			if !more {
				return ids
			}
			c := items.CursorOf(list[len(list)-1])
			page.After = &c
		}
	}
	search := func(s *items.Store, q string) []int64 {
		t.Helper()
		var ids []int64
		page := items.Page{Limit: 3, Query: q}
		for {
			list, next, err := s.List(ctx, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range list {
				ids = append(ids, it.ID)
			}
			if next == nil {
				return ids
			}
			page.After = next
		}
	}

	// Stores whose search steps are bounded so tightly that 300 names
	// reach every step: the short walk, the long walk, the index with and
	// without its cap, and the last, unbounded query.
	recorder := &recordingDB{DB: walked}
	stepped := map[string]*items.Store{
		"default limits":         store,
		"index only (planner)":   indexed,
		"tiny walks, small cap":  items.NewStoreWithSearchLimits(recorder, 4, 12, 5),
		"one-row walks, cap one": items.NewStoreWithSearchLimits(recorder, 1, 3, 1),
		"walks only":             items.NewStoreWithSearchLimits(recorder, 50, 1000, 1),
		"index answers all":      items.NewStoreWithSearchLimits(recorder, 1, 2, 1000),
	}

	var matched int
	for _, q := range queries {
		want := walk(q)
		for name, s := range stepped {
			if got := search(s, q); !slices.Equal(got, want) {
				t.Errorf("search %q (%s) = %v, the walk found %v", q, name, got, want)
			}
		}
		if len(want) > 0 {
			matched++
		}
		// For ASCII terms the meaning is plain: a case-insensitive
		// substring, with % _ \ as themselves.
		if isASCII(q) {
			var n int
			for _, name := range names {
				if strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
					n++
				}
			}
			if n != len(want) {
				t.Errorf("search %q found %d items, %d names contain it", q, len(want), n)
			}
		}
	}
	if matched < len(queries)/2 {
		t.Fatalf("only %d of %d queries matched anything: the corpus does not exercise the search", matched, len(queries))
	}
	for _, stmt := range []string{items.WalkSQL(false), items.WalkSQL(true), items.IndexSQL(false), items.IndexSQL(true)} {
		if recorder.count(stmt) == 0 {
			t.Errorf("no search ran %.60s...", stmt)
		}
	}
	for _, after := range []bool{false, true} {
		sql, _ := items.ListQuery(items.Page{Query: "x", After: map[bool]*items.Cursor{true: {}}[after]})
		if recorder.count(sql) == 0 {
			t.Errorf("no search reached the last step (cursor %v)", after)
		}
	}

	// The indexed store really reads the trigram index for long terms.
	if plan := explain(t, indexed, items.Page{Limit: 3, Query: "Straße"}); !strings.Contains(plan, `"Index Name": "items_name_trgm"`) {
		t.Errorf("the index route does not read items_name_trgm:\n%s", plan)
	}
}

func isASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r > unicode.MaxASCII })
}

// explain returns the JSON plan PostgreSQL chooses for List's statement,
// run the way List runs it.
func explain(t *testing.T, s *items.Store, p items.Page) string {
	t.Helper()
	sql, args := items.ListQuery(p)
	return explainSQL(t, s, sql, args)
}

// explainSQL returns the JSON plan of sql with args.
func explainSQL(t *testing.T, s *items.Store, sql string, args []any) string {
	t.Helper()
	var plan []map[string]any
	if err := s.DB().QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(plan, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// At 100,000 items, after ANALYZE, the planner answers a rare five-letter
// term from the trigram index, and a common term and a two-letter term from
// the newest-first index (where a page fills after a few rows).
func TestSearchPlansAtScale(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	url := migratedURL(t)
	pool := newPool(t, url, nil)
	var def string
	if err := pool.QueryRow(ctx, "SELECT indexdef FROM pg_indexes WHERE indexname = 'items_name_trgm'").Scan(&def); err != nil {
		t.Fatal(err)
	}
	// Loading is faster without the index; it is rebuilt from the
	// migration's own definition.
	for _, sql := range []string{
		"DROP INDEX items_name_trgm",
		`INSERT INTO items (name, created_by, updated_by, created_at)
		 SELECT (ARRAY['Oak','Pine','Steel','Glass','Linen','Brass','Walnut','Cedar'])[1 + g % 8] || ' ' ||
		        (ARRAY['lamp','desk','chair','shelf','table','stool','bench','rug','clock','vase'])[1 + (g / 8) % 10] || ' ' ||
		        CASE WHEN g % 20000 = 7 THEN 'quokka ' ELSE '' END || to_hex(g * 2654435761 % 4294967296),
		        'bench', 'bench', now() - (100000 - g) * interval '1 second'
		 FROM generate_series(1, 100000) g`,
		def,
		"ANALYZE items",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%.40s: %v", sql, err)
		}
	}
	s := items.NewStore(pool)
	for _, tc := range []struct {
		term, index string
	}{
		{"quokk", "items_name_trgm"},       // 5 of 100,000 names
		{"lamp", "items_newest_first"},     // a tenth of them
		{"la", "items_newest_first"},       // no trigram: the walk
		{"nowhere", "items_name_trgm"},     // none
		{"oak lamp", "items_newest_first"}, // common, several words
	} {
		for _, after := range []*items.Cursor{nil, {CreatedAt: time.Now().Add(-time.Hour), ID: 99000}} {
			plan := explain(t, s, items.Page{Limit: 21, Query: tc.term, After: after})
			if !strings.Contains(plan, `"Index Name": "`+tc.index+`"`) {
				t.Errorf("search %q (cursor %v) does not use %s:\n%s", tc.term, after != nil, tc.index, plan)
			}
		}
	}
	// The bounded steps: the walks read the newest-first index whatever the
	// term, the index step reads the trigram index for a rare one.
	for _, term := range []string{"quokk", "lamp", "oak lamp"} {
		for _, after := range []bool{false, true} {
			p := items.Page{Limit: 20, Query: term}
			if after {
				p.After = &items.Cursor{CreatedAt: time.Now().Add(-time.Hour), ID: 99000}
			}
			steps := map[string]string{items.WalkSQL(after): "items_newest_first"}
			if term == "quokk" {
				steps[items.IndexSQL(after)] = "items_name_trgm"
			}
			for sql, index := range steps {
				if plan := explainSQL(t, s, sql, items.SearchArgs(p, 1000)); !strings.Contains(plan, `"Index Name": "`+index+`"`) {
					t.Errorf("step %.30s... for %q (cursor %v) does not use %s:\n%s", sql, term, after, index, plan)
				}
			}
		}
	}
	list, _, err := s.List(ctx, items.Page{Limit: 21, Query: "QUOKK"})
	if err != nil || len(list) != 5 {
		t.Fatalf("rare term: %d items, %v; want 5", len(list), err)
	}
}

// Searches are never prepared and cached on a connection: after five
// executions PostgreSQL may plan a cached statement once for every term,
// and a few short-term searches (full walks) would then make every rare
// term walk the whole table too (docs/performance.md has the figure).
// Pages without a search are cached as before.
func TestSearchesAreNotCachedStatements(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pool := newPool(t, migratedURL(t)+"&pool_max_conns=1", nil)
	s := items.NewStore(pool)
	for _, p := range []items.Page{{Limit: 20}, {Limit: 20, Query: "zq"}, {Limit: 20, Query: "lamp"},
		{Limit: 20, Query: "zq", After: &items.Cursor{CreatedAt: time.Now(), ID: 1}}} {
		for range 6 {
			if _, _, err := s.List(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One connection: this query runs where the searches ran (and is not
	// prepared itself).
	var searches, pages int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE '%ILIKE%'),
		count(*) FILTER (WHERE statement LIKE '%FROM items ORDER BY created_at DESC%') FROM pg_prepared_statements`,
		pgx.QueryExecModeSimpleProtocol).Scan(&searches, &pages); err != nil {
		t.Fatal(err)
	}
	if searches != 0 || pages != 1 {
		t.Fatalf("prepared on the connection: %d search statements (want 0), %d page statements (want 1)", searches, pages)
	}
}

// recordingDB counts the statements run through it on a real pool.
type recordingDB struct {
	items.DB
	mu   sync.Mutex
	runs map[string]int
}

func (r *recordingDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[string]int{}
	}
	r.runs[sql]++
	r.mu.Unlock()
	return r.DB.Query(ctx, sql, args...)
}

func (r *recordingDB) count(sql string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[sql]
}
