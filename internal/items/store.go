package items

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is the part of pgxpool.Pool (or pgx.Conn, or a pgx.Tx) the store uses.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store reads and writes items in PostgreSQL.
type Store struct {
	db     DB
	search searchLimits
}

// NewStore returns a store on db.
func NewStore(db DB) *Store { return &Store{db: db, search: defaultSearchLimits} }

const columns = `id, name, description, created_by, created_at, updated_by, updated_at, version`

// Page asks for one page of the newest-first listing.
type Page struct {
	Limit int
	After *Cursor // nil for the first page
	// Query, when not empty, keeps only items whose name contains it,
	// ignoring case. It is matched literally: % and _ are not wildcards.
	Query string
}

// MaxQueryLen bounds a search query, in characters: longer than any name
// it could match.
const MaxQueryLen = MaxNameLen

// List returns up to p.Limit items after p.After, and the cursor of the next
// page when there is one.
//
// Pages are keyset-paginated newest first, searches included, so they stay
// stable while items are added. A search term of three characters or more
// is answered by a bounded walk of the newest rows or by the trigram index
// on name (pg_trgm), whichever finds the page first (searchPage); a shorter
// term holds no trigram and walks the newest-first index, so its cost grows
// with the rows passed before a page fills (docs/performance.md).
func (s *Store) List(ctx context.Context, p Page) ([]Item, *Cursor, error) {
	var (
		list []Item
		err  error
	)
	if p.Query != "" && indexable(p.Query) {
		list, err = s.searchPage(ctx, p)
	} else {
		sql, args := listQuery(p)
		list, err = s.collect(ctx, sql, args)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(list) <= p.Limit {
		return list, nil, nil
	}
	list = list[:p.Limit]
	next := CursorOf(list[len(list)-1])
	return list, &next, nil
}

// listQuery is the statement and arguments of List. One row more than
// asked tells whether another page follows.
//
// A search is planned for its own term on every call (QueryExecModeExec:
// the unnamed statement, one round trip): whether the trigram index or the
// newest-first walk is cheaper depends on how common the term is, and a
// cached statement's generic plan would pick one for every term.
func listQuery(p Page) (string, []any) {
	var args []any
	if p.Query != "" {
		args = append(args, pgx.QueryExecModeExec, "%"+likeEscaper.Replace(p.Query)+"%")
	}
	if p.After != nil {
		args = append(args, p.After.CreatedAt, p.After.ID)
	}
	args = append(args, p.Limit+1)
	return listSQL(p.Query != "", p.After != nil), args
}

// likeEscaper makes a string match itself literally in a LIKE pattern,
// whose default escape character is the backslash. A constant in all but
// syntax (a Replacer is safe for concurrent use).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// listSQL is the list query for a page with or without a name search and
// a cursor: four statements, each written out whole rather than assembled,
// so what runs can be read here as it is.
func listSQL(search, after bool) string {
	const (
		head  = `SELECT ` + columns + ` FROM items`
		order = ` ORDER BY created_at DESC, id DESC`
	)
	switch {
	case search && after:
		return head + ` WHERE name ILIKE $1 AND (created_at, id) < ($2, $3)` + order + ` LIMIT $4`
	case search:
		return head + ` WHERE name ILIKE $1` + order + ` LIMIT $2`
	case after:
		return head + ` WHERE (created_at, id) < ($1, $2)` + order + ` LIMIT $3`
	default:
		return head + order + ` LIMIT $1`
	}
}

// Get returns the item with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Item, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+columns+` FROM items WHERE id = $1`, id)
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("get item %d: %w", id, err)
	}
	return it, nil
}

// Create stores a new item made by user.
func (s *Store) Create(ctx context.Context, in Input, user string) (Item, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return Item{}, err
	}
	rows, _ := s.db.Query(ctx, `INSERT INTO items (name, description, created_by, updated_by)
		VALUES ($1, $2, $3, $3) RETURNING `+columns, in.Name, in.Description, user)
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if err != nil {
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	return it, nil
}

// AnyVersion skips the optimistic-locking check of Update, Apply and Delete.
const AnyVersion int64 = 0

// Update replaces the item's fields. With a version other than AnyVersion it
// only succeeds while the item is still at that version; otherwise it returns
// a *ConflictError holding the current item.
func (s *Store) Update(ctx context.Context, id int64, in Input, version int64, user string) (Item, error) {
	in = in.Normalize()
	if err := in.Validate(); err != nil {
		return Item{}, err
	}
	name, desc := in.Name, in.Description
	return s.Apply(ctx, id, Patch{Name: &name, Description: &desc}, version, user)
}

// Apply changes the fields the patch sets, with the same version rule as
// Update. The change happens in one statement, so concurrent patches of
// different fields never lose each other's work.
func (s *Store) Apply(ctx context.Context, id int64, p Patch, version int64, user string) (Item, error) {
	if p.Name != nil {
		n := Input{Name: *p.Name}.Normalize().Name
		p.Name = &n
	}
	if err := p.Validate(); err != nil {
		return Item{}, err
	}
	if p.Name == nil && p.Description == nil {
		// Nothing to change: no new version, so nobody else gets a
		// conflict for an edit that changed nothing.
		it, err := s.Get(ctx, id)
		if err == nil && version != AnyVersion && it.Version != version {
			return Item{}, &ConflictError{Current: it}
		}
		return it, err
	}
	rows, _ := s.db.Query(ctx, `UPDATE items SET
			name = COALESCE($2, name),
			description = COALESCE($3, description),
			updated_by = $4, updated_at = now(), version = version + 1
		WHERE id = $1 AND ($5 = 0 OR version = $5)
		RETURNING `+columns, id, p.Name, p.Description, user, version)
	it, err := pgx.CollectExactlyOneRow(rows, scanItem)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, s.missOrConflict(ctx, id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("update item %d: %w", id, err)
	}
	return it, nil
}

// Delete removes the item, with the same version rule as Update.
func (s *Store) Delete(ctx context.Context, id int64, version int64) error {
	var deleted int64
	err := s.db.QueryRow(ctx, `DELETE FROM items WHERE id = $1 AND ($2 = 0 OR version = $2) RETURNING id`,
		id, version).Scan(&deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.missOrConflict(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("delete item %d: %w", id, err)
	}
	return nil
}

// missOrConflict explains why a versioned write touched no row.
func (s *Store) missOrConflict(ctx context.Context, id int64) error {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return err // ErrNotFound or a database error
	}
	return &ConflictError{Current: cur}
}

func scanItem(row pgx.CollectableRow) (Item, error) {
	var it Item
	err := row.Scan(&it.ID, &it.Name, &it.Description, &it.CreatedBy, &it.CreatedAt,
		&it.UpdatedBy, &it.UpdatedAt, &it.Version)
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	return it, err
}

// IsUnavailable reports whether err means the database could not be reached
// (as opposed to a bad query), so callers can answer 503 instead of 500.
// Timeouts count as unavailable too; TimeoutReason tells them apart.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exceptions; 57P0x: server shutting down.
		return len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:4] == "57P0")
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)
}
