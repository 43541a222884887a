package items

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// Why a database call ran out of time; the values are metric labels.
const (
	// TimeoutAcquire: the deadline passed waiting for a pool connection
	// (or before the call started).
	TimeoutAcquire = "acquire"
	// TimeoutQuery: the deadline passed while connecting or while the
	// server worked on the statement.
	TimeoutQuery = "query"
	// TimeoutQueryCanceled: the server cancelled the statement (57014
	// query_canceled: statement_timeout, or a cancel request).
	TimeoutQueryCanceled = "query_canceled"
	// TimeoutLockNotAvailable: the server gave up waiting for a lock
	// (55P03 lock_not_available: lock_timeout).
	TimeoutLockNotAvailable = "lock_not_available"
)

// TimeoutReason says why err means the database ran out of time, one of
// the Timeout constants, or "" when it does not.
func TimeoutReason(err error) string {
	if err == nil {
		return ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57014":
			return TimeoutQueryCanceled
		case "55P03":
			return TimeoutLockNotAvailable
		}
		return ""
	}
	switch {
	case pgconn.Timeout(err):
		// pgconn marks deadlines it met on the connection.
		return TimeoutQuery
	case errors.Is(err, context.DeadlineExceeded):
		// pgxpool returns the bare context error from a connection wait.
		return TimeoutAcquire
	}
	return ""
}
