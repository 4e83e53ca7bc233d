-- NPC memories fed by the game: what kind of memory (an observation, a reflection...),
-- whom or what it is about, the memories a reflection was drawn from, and per-world
-- retrieval weights and reflection threshold.

ALTER TABLE kb_memories
    ADD COLUMN kind     text     NOT NULL DEFAULT 'observation' CHECK (length(kind) BETWEEN 1 AND 40),
    ADD COLUMN subject  text     CHECK (length(subject) BETWEEN 1 AND 200),
    ADD COLUMN evidence bigint[] NOT NULL DEFAULT '{}';

CREATE INDEX kb_memories_reflections ON kb_memories (world_id, owner, id) WHERE kind = 'reflection';

CREATE TABLE kb_memory_settings (
    world_id          text        PRIMARY KEY REFERENCES kb_worlds (id) ON DELETE CASCADE,
    recency           real        NOT NULL CHECK (recency >= 0),
    importance        real        NOT NULL CHECK (importance >= 0),
    relevance         real        NOT NULL CHECK (relevance >= 0),
    reflect_threshold real        NOT NULL CHECK (reflect_threshold > 0),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
