-- pg_trgm indexes substring searches (ILIKE '%term%'). It is a trusted
-- extension: CREATE privilege on the database suffices, no superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

---- create above / drop below ----

DROP EXTENSION IF EXISTS pg_trgm;
