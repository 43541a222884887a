-- The service's own role (DB_APP_ROLE of `server migrate`) reads and writes
-- rows and nothing else: no DDL, no TRUNCATE, no ownership. The owner role
-- that runs the migrations keeps DDL. Default privileges extend the same
-- grants to tables and sequences later migrations create as this owner.
-- Without DB_APP_ROLE (one role does both) there is nothing to grant.
{{ if .app_role }}
GRANT USAGE ON SCHEMA public TO {{ .app_role }};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {{ .app_role }};
-- The version table is read by /readyz, written only by migrations.
REVOKE INSERT, UPDATE, DELETE ON schema_version FROM {{ .app_role }};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {{ .app_role }};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {{ .app_role }};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {{ .app_role }};
{{ else }}
SELECT 'no app role: the service connects as the owner';
{{ end }}

---- create above / drop below ----

{{ if .app_role }}
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {{ .app_role }};
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {{ .app_role }};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {{ .app_role }};
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {{ .app_role }};
REVOKE USAGE ON SCHEMA public FROM {{ .app_role }};
{{ else }}
SELECT 'no app role';
{{ end }}
