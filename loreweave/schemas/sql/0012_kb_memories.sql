-- Knowledge base, memories of NPCs and the storyteller (Generative Agents style):
-- text, importance 1-10, creation and last access times, embedding.

CREATE TABLE kb_memories (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    world_id         text        NOT NULL REFERENCES kb_worlds (id) ON DELETE CASCADE,
    owner            text        NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    body             text        NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    importance       real        NOT NULL CHECK (importance BETWEEN 1 AND 10),
    embedding        vector(384) NOT NULL,
    event_id         bigint      REFERENCES kb_story_events (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz NOT NULL DEFAULT now()
);

-- Retrieval scores every memory of one owner (exact cosine), so no vector index:
-- an owner's memories are few, and an HNSW scan with an owner filter would miss some.
CREATE INDEX kb_memories_owner ON kb_memories (world_id, owner, last_accessed_at DESC);
