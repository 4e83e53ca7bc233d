-- Payment ledger: purchase intents (idempotent by key), the entitlements they grant, refunds.
-- Amounts are integers in the currency's minor unit (cents); balances are derived, never stored.

CREATE TABLE purchase_intents (
    intent_id       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text        NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    world           text        NOT NULL,
    player          text        NOT NULL,
    sku             text        NOT NULL,
    quantity        integer     NOT NULL DEFAULT 1 CHECK (quantity > 0),
    amount_minor    bigint      NOT NULL CHECK (amount_minor >= 0),
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z][A-Z0-9]{2,7}$'),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'completed', 'failed', 'cancelled')),
    provider_ref    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX purchase_intents_player ON purchase_intents (world, player, created_at);

-- An intent's terms never change, and only a pending intent changes status.
CREATE FUNCTION loreweave_guard_purchase_intent() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF (NEW.idempotency_key, NEW.world, NEW.player, NEW.sku, NEW.quantity, NEW.amount_minor, NEW.currency)
       IS DISTINCT FROM
       (OLD.idempotency_key, OLD.world, OLD.player, OLD.sku, OLD.quantity, OLD.amount_minor, OLD.currency) THEN
        RAISE EXCEPTION 'purchase intent %: its terms cannot change', OLD.intent_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'pending' AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'purchase intent %: status % is final (asked for %)', OLD.intent_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER purchase_intents_guard BEFORE UPDATE ON purchase_intents
    FOR EACH ROW EXECUTE FUNCTION loreweave_guard_purchase_intent();

-- What a completed purchase granted; one grant per intent, so granting twice is impossible.
CREATE TABLE entitlements (
    entitlement_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    intent_id      uuid        NOT NULL UNIQUE REFERENCES purchase_intents (intent_id),
    world          text        NOT NULL,
    player         text        NOT NULL,
    sku            text        NOT NULL,
    quantity       integer     NOT NULL CHECK (quantity > 0),
    granted_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

CREATE INDEX entitlements_player ON entitlements (world, player) WHERE revoked_at IS NULL;

CREATE TABLE refunds (
    refund_id       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text        NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    intent_id       uuid        NOT NULL REFERENCES purchase_intents (intent_id),
    amount_minor    bigint      NOT NULL CHECK (amount_minor > 0),
    reason          text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX refunds_intent ON refunds (intent_id);

-- Entitlements and refunds only for completed intents, refunds never above what was paid.
-- The intent row is locked, so concurrent refunds of one intent are checked one after the other.
CREATE FUNCTION loreweave_check_against_intent() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_paid   bigint;
    v_status text;
    v_total  bigint;
BEGIN
    SELECT i.amount_minor, i.status INTO v_paid, v_status
        FROM purchase_intents i WHERE i.intent_id = NEW.intent_id FOR UPDATE;
    IF v_status IS DISTINCT FROM 'completed' THEN
        RAISE EXCEPTION '%: purchase intent % is not completed (status %)', TG_TABLE_NAME, NEW.intent_id, v_status
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_TABLE_NAME = 'refunds' THEN
        SELECT coalesce(sum(r.amount_minor), 0) + NEW.amount_minor INTO v_total
            FROM refunds r WHERE r.intent_id = NEW.intent_id;
        IF v_total > v_paid THEN
            RAISE EXCEPTION 'refunds: purchase intent % would be refunded % of % paid', NEW.intent_id, v_total, v_paid
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER entitlements_check BEFORE INSERT ON entitlements
    FOR EACH ROW EXECUTE FUNCTION loreweave_check_against_intent();
CREATE TRIGGER refunds_check BEFORE INSERT ON refunds
    FOR EACH ROW EXECUTE FUNCTION loreweave_check_against_intent();

-- Per player and currency: paid by completed purchases, refunded, and the net.
CREATE VIEW player_balances AS
SELECT i.world,
       i.player,
       i.currency,
       sum(i.amount_minor)::bigint                               AS paid_minor,
       coalesce(sum(r.refunded_minor), 0)::bigint                AS refunded_minor,
       (sum(i.amount_minor) - coalesce(sum(r.refunded_minor), 0))::bigint AS net_minor
FROM purchase_intents i
LEFT JOIN (
    SELECT intent_id, sum(amount_minor) AS refunded_minor FROM refunds GROUP BY intent_id
) r USING (intent_id)
WHERE i.status = 'completed'
GROUP BY i.world, i.player, i.currency;
