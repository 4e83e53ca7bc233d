-- The latest state of each actor (and of each key of a keyed actor), serialised by the runtime.
CREATE TABLE actor_snapshots (
    actor      text        NOT NULL CHECK (actor <> ''),
    key        text        NOT NULL DEFAULT '',
    state      bytea       NOT NULL,
    stream_seq bigint      NOT NULL CHECK (stream_seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, key)
);

COMMENT ON TABLE actor_snapshots IS 'Latest state per actor and key (msgpack); recovery replays the stream after stream_seq.';
COMMENT ON COLUMN actor_snapshots.key IS 'Key of a keyed actor (a player, an NPC); empty for a singleton actor.';
COMMENT ON COLUMN actor_snapshots.stream_seq IS 'Last JetStream stream sequence whose effects this state includes.';
