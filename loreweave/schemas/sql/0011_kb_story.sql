-- Knowledge base, story: events from the journal, and concepts whose versions record
-- what was believed when and which event changed it.

CREATE TABLE kb_story_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    world_id    text        NOT NULL REFERENCES kb_worlds (id) ON DELETE CASCADE,
    journal_id  text,                      -- the journal entry / frame id it came from
    kind        text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 200),
    summary     text        NOT NULL CHECK (length(summary) BETWEEN 1 AND 4000),
    story_date  text,                      -- in-world date, e.g. '1042 YR, 9 Wane'
    occurred_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- Importing the same journal entry twice records it once.
    CONSTRAINT kb_story_events_journal_key UNIQUE (world_id, journal_id)
);

CREATE INDEX kb_story_events_when ON kb_story_events (world_id, occurred_at);

CREATE TABLE kb_concepts (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    world_id   text        REFERENCES kb_worlds (id) ON DELETE CASCADE,  -- NULL: global
    name       text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    kind       text        NOT NULL
               CHECK (kind IN ('character', 'place', 'faction', 'item', 'theme')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX kb_concepts_name_key ON kb_concepts (world_id, lower(name)) NULLS NOT DISTINCT;

CREATE TABLE kb_concept_versions (
    concept_id  bigint      NOT NULL REFERENCES kb_concepts (id) ON DELETE CASCADE,
    version     integer     NOT NULL CHECK (version >= 1),
    summary     text        NOT NULL CHECK (length(summary) BETWEEN 1 AND 4000),
    attributes  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    event_id    bigint      REFERENCES kb_story_events (id) ON DELETE SET NULL,
    valid_from  timestamptz NOT NULL,       -- when, in the story, this became true
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (concept_id, version)
);

CREATE INDEX kb_concept_versions_event ON kb_concept_versions (event_id);
