-- Knowledge base, lore: worlds, documents and their chunks (embedding + full text).
-- Tables carry the kb_ prefix and are created in the current schema.

CREATE TABLE kb_worlds (
    id         text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]+$'),
    title      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A document is global lore (world_id NULL) or belongs to one world.
CREATE TABLE kb_documents (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    world_id     text        REFERENCES kb_worlds (id) ON DELETE CASCADE,
    source       text        NOT NULL CHECK (length(source) BETWEEN 1 AND 1000),
    title        text        NOT NULL,
    content_hash text        NOT NULL,          -- sha256 of the file's bytes
    pipeline     text        NOT NULL,          -- model + chunker settings that made the chunks
    size_bytes   integer     NOT NULL CHECK (size_bytes >= 0),
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT kb_documents_source_key UNIQUE NULLS NOT DISTINCT (world_id, source)
);

CREATE TABLE kb_chunks (
    id           bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  bigint       NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    -- Copied from the document so that search filters chunks without a join.
    world_id     text         REFERENCES kb_worlds (id) ON DELETE CASCADE,
    ordinal      integer      NOT NULL CHECK (ordinal >= 0),
    heading      text         NOT NULL,
    heading_path text[]       NOT NULL,
    body         text         NOT NULL CHECK (length(body) > 0),
    embedding    vector(384)  NOT NULL,
    -- Headings weigh more than body text in full-text ranking.
    tsv          tsvector     NOT NULL,
    CONSTRAINT kb_chunks_ordinal_key UNIQUE (document_id, ordinal)
);

CREATE INDEX kb_chunks_embedding_hnsw ON kb_chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX kb_chunks_tsv_gin ON kb_chunks USING gin (tsv);
CREATE INDEX kb_chunks_world ON kb_chunks (world_id);
