-- Fencing tokens of partition leases: the highest lease token that committed per partition.
-- A commit made under a placement lease first checks and raises its partition's row here, in
-- the same transaction (loreweave.db.fencing.check_fence); a token below the row's is refused,
-- so a node that lost its lease without knowing it (paused, partitioned) cannot commit over
-- the node that took the lease after it. Tokens are KV revisions of the lease bucket, so they
-- only compare within one bucket: the bucket is part of the key.
CREATE TABLE partition_fences (
    lease_bucket text        NOT NULL CHECK (lease_bucket <> ''),
    partition_id integer     NOT NULL CHECK (partition_id >= 0),
    token        bigint      NOT NULL CHECK (token > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lease_bucket, partition_id)
);

COMMENT ON TABLE partition_fences IS 'Highest lease token (KV revision at acquisition) that committed, per lease bucket and partition.';
