-- Each player's standing in each quest of a world.
CREATE TABLE quest_state (
    world      text        NOT NULL,
    quest_id   text        NOT NULL,
    player     text        NOT NULL,
    state      text        NOT NULL CHECK (state <> ''),
    progress   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (world, quest_id, player)
);

CREATE INDEX quest_state_player ON quest_state (world, player);

COMMENT ON COLUMN quest_state.state IS 'Game-defined stage name (offered, active, completed, failed...).';
COMMENT ON COLUMN quest_state.progress IS 'Game-defined counters and flags, e.g. {"wolves": 3}.';
