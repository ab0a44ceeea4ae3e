-- Alpine 0008: the feed. Every stored signal, outcome and execution is an event with a
-- position `seq`: 1, 2, 3, ... in commit order, with no gap and no clock involved.
--
-- The positions come from the single row of feed_head, updated by a trigger at the end
-- of the writing statement. Its row lock is held until the transaction ends, so write
-- transactions take their positions one after another, and a transaction commits
-- before the next one can take a position: every snapshot therefore sees exactly the
-- positions 1..n, for some n. A reader may take everything it sees; nothing can later
-- commit below it (alpine/feed.py; proved in tests/integration/test_feed_order.py).
-- The price: Alpine's writes commit one at a time (the lock is taken last, just before
-- the commit, so it is held for the commit only).
--
-- `epoch` is a random token: a new one (alpine feed new-epoch) tells subscribers that
-- history was restored or rewound. Alpine also folds the database's oid and timeline
-- into the epoch it shows, so a pg_restore or a point-in-time recovery changes it alone.
CREATE TABLE feed_head (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL CHECK (seq >= 0),
    epoch TEXT NOT NULL
);

-- A signal deleted by hand (Alpine has no such path) takes its events with it; the
-- positions of the others do not change.
CREATE TABLE feed_events (
    seq        BIGINT PRIMARY KEY,
    signal_row BIGINT NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('signal', 'outcome', 'execution')),
    stored_at  TIMESTAMPTZ NOT NULL DEFAULT now(),  -- when it was stored (receipts)
    UNIQUE (signal_row, kind)
);

-- What was stored before this migration: its signals by id, then outcomes, then executions.
INSERT INTO feed_events (seq, signal_row, kind, stored_at)
SELECT row_number() OVER (ORDER BY phase, id), id, kind, at
FROM (
    SELECT id, 'signal' AS kind, 1 AS phase, received_at AS at FROM signals
    UNION ALL SELECT id, 'outcome', 2, now() FROM signals WHERE outcome IS NOT NULL
    UNION ALL SELECT id, 'execution', 3, now() FROM signals WHERE order_id IS NOT NULL
) AS history;

INSERT INTO feed_head (id, seq, epoch)
SELECT 1, count(*), replace(gen_random_uuid()::text, '-', '') FROM feed_events;

CREATE FUNCTION alpine_feed_signals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added BIGINT;
    last_seq BIGINT;
BEGIN
    SELECT count(*) INTO added FROM inserted;
    IF added = 0 THEN
        RETURN NULL;
    END IF;
    UPDATE feed_head SET seq = seq + added WHERE id = 1 RETURNING seq INTO last_seq;
    INSERT INTO feed_events (seq, signal_row, kind)
    SELECT last_seq - added + row_number() OVER (ORDER BY id), id, 'signal' FROM inserted;
    RETURN NULL;
END
$$;

CREATE TRIGGER signals_feed
    AFTER INSERT ON signals
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION alpine_feed_signals();

CREATE FUNCTION alpine_feed_updates() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_seq BIGINT;
BEGIN
    IF OLD.outcome IS NULL AND NEW.outcome IS NOT NULL THEN
        UPDATE feed_head SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO next_seq;
        INSERT INTO feed_events (seq, signal_row, kind) VALUES (next_seq, NEW.id, 'outcome');
        PERFORM pg_notify('alpine_signals', '');
    END IF;
    IF OLD.order_id IS NULL AND NEW.order_id IS NOT NULL THEN
        UPDATE feed_head SET seq = seq + 1 WHERE id = 1 RETURNING seq INTO next_seq;
        INSERT INTO feed_events (seq, signal_row, kind) VALUES (next_seq, NEW.id, 'execution');
        PERFORM pg_notify('alpine_signals', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER signals_feed_updates
    AFTER UPDATE OF outcome, order_id ON signals
    FOR EACH ROW EXECUTE FUNCTION alpine_feed_updates();
