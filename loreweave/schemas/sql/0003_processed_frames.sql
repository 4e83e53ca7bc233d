-- Frames whose effects an actor has committed: claimed in the same transaction as the
-- state change, so a redelivered frame is recognised and its effects are not applied twice.
CREATE TABLE processed_frames (
    actor        text        NOT NULL,
    frame_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor, frame_id)
);

-- Pruning by age scans this; pruning by count per actor uses the second.
CREATE INDEX processed_frames_processed_at ON processed_frames (processed_at);
CREATE INDEX processed_frames_actor_recent ON processed_frames (actor, processed_at DESC, frame_id DESC);

COMMENT ON TABLE processed_frames IS 'Exactly-once effects: (actor, frame_id) claimed with the state change; pruned after the redelivery window.';
