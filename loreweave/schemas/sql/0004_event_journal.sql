-- Every journaled frame, queryable by world and time, type, or conversation.
CREATE TABLE event_journal (
    frame_id       text        PRIMARY KEY CHECK (char_length(frame_id) = 26),
    world          text        NOT NULL,
    type           text        NOT NULL,
    ts             timestamptz NOT NULL,
    source         text        NOT NULL DEFAULT '',
    correlation_id text        NOT NULL,
    causation_id   text,
    payload        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX event_journal_world_ts ON event_journal (world, ts, frame_id);
CREATE INDEX event_journal_world_type_ts ON event_journal (world, type, ts);
CREATE INDEX event_journal_correlation ON event_journal (correlation_id, ts);

COMMENT ON TABLE event_journal IS 'Frames as emitted (frame_id is the ULID of the frame); appends are idempotent on frame_id.';
