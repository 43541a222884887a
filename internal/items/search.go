package items

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// searchLimits bound the steps of a search (see searchPage).
type searchLimits struct {
	// walk and longWalk are how many of the newest rows (after the cursor)
	// the first two steps read; indexCap is how many matches the trigram
	// index may return before the term counts as common.
	walk, longWalk, indexCap int
	// denseHits is how many matches the first walk must find for the
	// longer walk to be worth it.
	denseHits int
}

// defaultSearchLimits suit tables of about a million rows: each step costs
// at most some milliseconds there (docs/performance.md).
var defaultSearchLimits = searchLimits{walk: 1000, longWalk: 20000, indexCap: 1500, denseHits: 3}

// minIndexedQuery is the shortest term the trigram index can answer: a
// shorter one holds no trigram.
const minIndexedQuery = 3

// searchPage returns the first p.Limit+1 items after p.After whose name
// contains p.Query, newest first: exactly what one ordered, filtered walk
// of the table returns, in at most four steps, each exact when it
// completes and each bounded but the last:
//
//  1. the newest `walk` rows, filtered: a common term fills the page here;
//  2. if they held a few matches, the newest `longWalk` rows;
//  3. the trigram index, for at most `indexCap` matches: a rare term is
//     answered here, however old its items are;
//  4. otherwise (a term with many matches, all among older rows), the
//     planner's choice over the whole range.
//
// The planner alone guesses how common a term is from a sample of names,
// and assumes matches spread evenly: a term it deems common but that only
// old rows hold would walk the whole table.
func (s *Store) searchPage(ctx context.Context, p Page) ([]Item, error) {
	lim := s.search
	list, err := s.searchWalk(ctx, p, lim.walk)
	if err != nil || len(list) > p.Limit {
		return list, err
	}
	if len(list) >= lim.denseHits {
		if list, err = s.searchWalk(ctx, p, lim.longWalk); err != nil || len(list) > p.Limit {
			return list, err
		}
	}
	list, complete, err := s.searchIndex(ctx, p, lim.indexCap)
	if err != nil || complete {
		return list, err
	}
	sql, args := listQuery(p)
	return s.collect(ctx, sql, args)
}

// searchWalk filters the newest `rows` rows after the cursor.
func (s *Store) searchWalk(ctx context.Context, p Page, rows int) ([]Item, error) {
	return s.collect(ctx, walkSQL(p.After != nil), searchArgs(p, rows))
}

// searchIndex asks the trigram index for at most limit matches after the
// cursor; complete reports that it found them all.
func (s *Store) searchIndex(ctx context.Context, p Page, limit int) (list []Item, complete bool, err error) {
	rows, err := s.db.Query(ctx, indexSQL(p.After != nil), searchArgs(p, limit)...)
	if err != nil {
		return nil, false, fmt.Errorf("search items: %w", err)
	}
	var found int64
	list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Item, error) {
		var it Item
		err := row.Scan(&found, &it.ID, &it.Name, &it.Description, &it.CreatedBy, &it.CreatedAt,
			&it.UpdatedBy, &it.UpdatedAt, &it.Version)
		it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
		return it, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("search items: %w", err)
	}
	return list, found < int64(limit), nil
}

func (s *Store) collect(ctx context.Context, sql string, args []any) ([]Item, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanItem)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	return list, nil
}

// indexable reports whether the trigram index can answer q.
func indexable(q string) bool { return utf8.RuneCountInString(q) >= minIndexedQuery }

// searchArgs are the arguments of walkSQL and indexSQL: the pattern, the
// bound, the cursor if any, and the page size plus one. Planned for each
// call, as every search is (see listQuery).
func searchArgs(p Page, bound int) []any {
	args := []any{pgx.QueryExecModeExec, "%" + likeEscaper.Replace(p.Query) + "%", bound}
	if p.After != nil {
		args = append(args, p.After.CreatedAt, p.After.ID)
	}
	return append(args, p.Limit+1)
}

// walkSQL filters the newest $2 rows after the cursor. The LIMIT inside
// keeps the planner from pushing the filter down, so this is a walk of at
// most $2 index entries whatever the planner thinks of the term.
func walkSQL(after bool) string {
	if after {
		return `SELECT ` + columns + ` FROM (SELECT ` + columns + ` FROM items WHERE (created_at, id) < ($3, $4)` +
			` ORDER BY created_at DESC, id DESC LIMIT $2) recent WHERE name ILIKE $1 ORDER BY created_at DESC, id DESC LIMIT $5`
	}
	return `SELECT ` + columns + ` FROM (SELECT ` + columns + ` FROM items ORDER BY created_at DESC, id DESC LIMIT $2) recent` +
		` WHERE name ILIKE $1 ORDER BY created_at DESC, id DESC LIMIT $3`
}

// indexSQL takes at most $2 matches after the cursor, in no order (the
// trigram index's bitmap scan), then the newest of them, each row carrying
// how many matches were taken: fewer than $2 means these are all there are.
func indexSQL(after bool) string {
	cond, n := ``, `$3`
	if after {
		cond, n = ` AND (created_at, id) < ($3, $4)`, `$5`
	}
	return `WITH found AS MATERIALIZED (SELECT id, created_at FROM items WHERE name ILIKE $1` + cond + ` LIMIT $2)` +
		` SELECT (SELECT count(*) FROM found), ` + columns + ` FROM items` +
		` WHERE id IN (SELECT id FROM found ORDER BY created_at DESC, id DESC LIMIT ` + n + `)` +
		` ORDER BY created_at DESC, id DESC`
}
