-- The transactional outbox: frames an actor emits, written in the transaction that commits the
-- effects they announce, and deleted once JetStream has acknowledged storing them. A row still
-- here after a crash is published again on start, under the same Nats-Msg-Id (its frame id).
CREATE TABLE frame_outbox (
    seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor      text        NOT NULL CHECK (actor <> ''),
    frame_id   text        NOT NULL,
    subject    text        NOT NULL,
    data       bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor, frame_id)
);

CREATE INDEX frame_outbox_actor ON frame_outbox (actor, seq);

COMMENT ON TABLE frame_outbox IS 'Emitted frames committed with their effects; a row is deleted only after its JetStream publish ack.';
COMMENT ON COLUMN frame_outbox.data IS 'The encoded frame, published as it is (its id is the Nats-Msg-Id).';
