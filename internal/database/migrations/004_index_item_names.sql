---- tern: disable-tx ----
-- A trigram index for name search (ILIKE '%term%', case-insensitive, with
-- the pattern escaped so % _ \ match themselves). Built CONCURRENTLY, so
-- inserts and updates go on while it builds; that cannot run inside a
-- transaction, hence disable-tx (tern then runs the statements one by one).
-- An interrupted build leaves an invalid index behind: dropping it first
-- lets a retry start afresh. fastupdate = off keeps every search off a
-- pending list and every insert's cost even (no occasional list merge).
DROP INDEX CONCURRENTLY IF EXISTS items_name_trgm;
CREATE INDEX CONCURRENTLY items_name_trgm ON items USING gin (name gin_trgm_ops) WITH (fastupdate = off);

---- create above / drop below ----

---- tern: disable-tx ----
DROP INDEX CONCURRENTLY IF EXISTS items_name_trgm;
