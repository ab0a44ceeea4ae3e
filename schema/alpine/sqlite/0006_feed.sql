-- Alpine 0006 (SQLite): the feed, as postgresql/0008_feed.sql. Every stored signal,
-- outcome and execution is an event with a position `seq`: 1, 2, 3, ... in commit order.
--
-- SQLite lets one transaction write at a time and holds its write lock until the
-- commit; the triggers below take the next position under that lock. So positions
-- are taken in commit order, and a reader's snapshot (WAL) always holds exactly the
-- positions 1..n for some n: nothing can later commit below what a reader has seen.
CREATE TABLE feed_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL CHECK (seq >= 0),
    epoch TEXT NOT NULL
);

CREATE TABLE feed_events (
    seq        INTEGER PRIMARY KEY,
    signal_row INTEGER NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('signal', 'outcome', 'execution')),
    stored_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (signal_row, kind)
);

INSERT INTO feed_events (seq, signal_row, kind, stored_at)
SELECT row_number() OVER (ORDER BY phase, id), id, kind, at
FROM (
    SELECT id, 'signal' AS kind, 1 AS phase, received_at AS at FROM signals
    UNION ALL SELECT id, 'outcome', 2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM signals WHERE outcome IS NOT NULL
    UNION ALL SELECT id, 'execution', 3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM signals WHERE order_id IS NOT NULL
);

INSERT INTO feed_head (id, seq, epoch) SELECT 1, count(*), lower(hex(randomblob(16))) FROM feed_events;

CREATE TRIGGER signals_feed AFTER INSERT ON signals
BEGIN
    UPDATE feed_head SET seq = seq + 1 WHERE id = 1;
    INSERT INTO feed_events (seq, signal_row, kind)
    SELECT seq, NEW.id, 'signal' FROM feed_head WHERE id = 1;
END;

CREATE TRIGGER signals_feed_outcome AFTER UPDATE OF outcome ON signals
WHEN OLD.outcome IS NULL AND NEW.outcome IS NOT NULL
BEGIN
    UPDATE feed_head SET seq = seq + 1 WHERE id = 1;
    INSERT INTO feed_events (seq, signal_row, kind)
    SELECT seq, NEW.id, 'outcome' FROM feed_head WHERE id = 1;
END;

CREATE TRIGGER signals_feed_execution AFTER UPDATE OF order_id ON signals
WHEN OLD.order_id IS NULL AND NEW.order_id IS NOT NULL
BEGIN
    UPDATE feed_head SET seq = seq + 1 WHERE id = 1;
    INSERT INTO feed_events (seq, signal_row, kind)
    SELECT seq, NEW.id, 'execution' FROM feed_head WHERE id = 1;
END;
