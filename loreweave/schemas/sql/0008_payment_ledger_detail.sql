-- What the payments actor keeps besides the 0005 terms: the purchase id players and refunds name,
-- what the provider was asked and answered, the ledger order, and whether the outcome's events
-- were published (an outbox flag: a crash between commit and publish is repaired on restart).

-- One sequence orders every ledger line (charges when they complete, refunds when recorded).
CREATE SEQUENCE payment_ledger_seq;

ALTER TABLE purchase_intents
    ADD COLUMN purchase_id      text,
    ADD COLUMN payment_method   text    NOT NULL DEFAULT '',
    ADD COLUMN provider_message text    NOT NULL DEFAULT '',
    ADD COLUMN ledger_seq       bigint,
    -- Rows written before this migration are taken as announced; new ones start unannounced.
    ADD COLUMN announced        boolean NOT NULL DEFAULT true;
ALTER TABLE purchase_intents ALTER COLUMN announced SET DEFAULT false;

UPDATE purchase_intents p SET ledger_seq = o.seq
    FROM (SELECT intent_id, nextval('payment_ledger_seq') AS seq
          FROM (SELECT intent_id FROM purchase_intents WHERE status = 'completed'
                ORDER BY updated_at, intent_id) ordered) o
    WHERE p.intent_id = o.intent_id;
UPDATE purchase_intents SET purchase_id = 'pur_' || left(replace(intent_id::text, '-', ''), 16);

CREATE UNIQUE INDEX purchase_intents_purchase_id ON purchase_intents (purchase_id);
CREATE UNIQUE INDEX purchase_intents_ledger_seq ON purchase_intents (ledger_seq);
-- Recovery on start looks for these; both are rare, so the indexes stay small.
CREATE INDEX purchase_intents_unsettled ON purchase_intents (created_at)
    WHERE status = 'pending' OR NOT announced;

ALTER TABLE refunds
    ADD COLUMN provider_ref text    NOT NULL DEFAULT '',
    ADD COLUMN ledger_seq   bigint  NOT NULL DEFAULT nextval('payment_ledger_seq'),
    ADD COLUMN announced    boolean NOT NULL DEFAULT true;
ALTER TABLE refunds ALTER COLUMN announced SET DEFAULT false;
CREATE UNIQUE INDEX refunds_ledger_seq ON refunds (ledger_seq);
CREATE INDEX refunds_unannounced ON refunds (created_at) WHERE NOT announced;

COMMENT ON COLUMN purchase_intents.purchase_id IS 'The id receipts and refund requests use (pur_...).';
COMMENT ON COLUMN purchase_intents.payment_method IS 'The provider token last tried (a retry of a pending key may change it).';
COMMENT ON COLUMN purchase_intents.ledger_seq IS 'Position of the charge line in the ledger; set when the intent completes.';
COMMENT ON COLUMN purchase_intents.announced IS 'Whether the outcome events (succeeded/declined, entitlement granted) were published.';
COMMENT ON COLUMN refunds.announced IS 'Whether payment.refunded and payment.entitlement_revoked were published.';
