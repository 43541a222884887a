package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CheckAppRole verifies, as the owner after migrating, that role can read
// and write every table of schema public and cannot act as the owner. It
// returns warnings for powers the role should not need (CREATEROLE,
// CREATEDB), which the owner cannot always take away (Cloud SQL gives
// users created through its API cloudsqlsuperuser membership).
func CheckAppRole(ctx context.Context, conn *pgx.Conn, role string) (warnings []string, err error) {
	var super, createRole, createDB bool
	err = conn.QueryRow(ctx,
		"SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1", role).
		Scan(&super, &createRole, &createDB)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("app role %q does not exist: create it (deploy/setup.sh does) before migrating", role)
	}
	if err != nil {
		return nil, fmt.Errorf("app role %q: %w", role, err)
	}
	if super {
		return nil, fmt.Errorf("app role %q is a superuser: the service must run as a role that only reads and writes rows", role)
	}
	var owner bool
	if err := conn.QueryRow(ctx, "SELECT pg_has_role($1, current_user, 'USAGE')", role).Scan(&owner); err != nil {
		return nil, fmt.Errorf("app role %q: %w", role, err)
	}
	if owner {
		return nil, fmt.Errorf("app role %q can act as the owner role (member of it): use a role of its own", role)
	}
	rows, err := conn.Query(ctx, `
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> $2
  AND NOT (has_table_privilege($1, c.oid, 'SELECT') AND has_table_privilege($1, c.oid, 'INSERT')
       AND has_table_privilege($1, c.oid, 'UPDATE') AND has_table_privilege($1, c.oid, 'DELETE'))
ORDER BY 1`, role, versionTable)
	if err != nil {
		return nil, fmt.Errorf("app role %q: privileges: %w", role, err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("app role %q: privileges: %w", role, err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("app role %q cannot read and write %v: the grants migration ran with another DB_APP_ROLE or none; "+
			"grant SELECT, INSERT, UPDATE, DELETE on them as the owner", role, missing)
	}
	if createRole {
		warnings = append(warnings, fmt.Sprintf("app role %q has CREATEROLE; revoke it (on Cloud SQL: REVOKE cloudsqlsuperuser FROM %s, as postgres)", role, pgx.Identifier{role}.Sanitize()))
	}
	if createDB {
		warnings = append(warnings, fmt.Sprintf("app role %q has CREATEDB, which the service does not need", role))
	}
	return warnings, nil
}
