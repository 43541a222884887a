-- Items: the domain table. version counts updates for optimistic locking
-- (ETag / If-Match); (created_at, id) orders pages newest first.
CREATE TABLE items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     bigint      NOT NULL DEFAULT 1 CHECK (version > 0)
);

CREATE INDEX items_newest_first ON items (created_at DESC, id DESC);

---- create above / drop below ----

DROP TABLE items;
