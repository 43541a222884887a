package items

// ListQuery exposes the statement and arguments of List to the plan tests.
var ListQuery = listQuery

// DB returns the store's database, for EXPLAIN.
func (s *Store) DB() DB { return s.db }

// NewStoreWithSearchLimits returns a store whose search steps are bounded
// by walk, longWalk and indexCap, so tests reach every step on few rows.
func NewStoreWithSearchLimits(db DB, walk, longWalk, indexCap int) *Store {
	s := NewStore(db)
	s.search = searchLimits{walk: walk, longWalk: longWalk, indexCap: indexCap, denseHits: defaultSearchLimits.denseHits}
	return s
}

// SearchSQL exposes the statements of the bounded search steps.
var WalkSQL, IndexSQL, SearchArgs = walkSQL, indexSQL, searchArgs
