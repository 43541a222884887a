package items

// ListQuery exposes the statement and arguments of List to the plan tests.
var ListQuery = listQuery

// DB returns the store's database, for EXPLAIN.
func (s *Store) DB() DB { return s.db }
