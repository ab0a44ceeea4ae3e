-- Version 6 to 7: the attempt log. outbox_posts: one row per HTTP POST the relay made (when,
-- which relay and window, Alpine's status or the transport error's class, how long, a capped
-- excerpt of the answer); outbox_attempts: one row per outbox row in it and the fate it led
-- to. Both written by the window's settle in its own transaction. A claim records its window
-- (token, relay, rows) in its own transaction and the settle removes it: a window whose relay
-- was killed stays, and its rows read as in flight while they carry its token, then unknown.
-- Attempts go with their outbox row; `relay prune` removes posts no attempt refers to.
CREATE TABLE IF NOT EXISTS outbox_posts (
    window_token    TEXT    NOT NULL,                   -- the claim's fencing token
    n               INTEGER NOT NULL,                   -- the POST's place in its window
    relay           TEXT    NOT NULL,                   -- the worker id, host:relay-N
    started_at      TEXT    NOT NULL,
    duration_ms     REAL    NOT NULL,
    http_status     INTEGER,
    error           TEXT,                               -- transport error class, no answer
    answer          TEXT    NOT NULL,                   -- excerpt of the answer or the reason
    events          INTEGER NOT NULL,                   -- rows it carried (a batch: several)
    PRIMARY KEY (window_token, n)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_posts_started ON outbox_posts (started_at);
CREATE TABLE IF NOT EXISTS outbox_attempts (
    outbox_id       INTEGER NOT NULL REFERENCES sync_outbox (id) ON DELETE CASCADE,
    window_token    TEXT    NOT NULL,
    post_n          INTEGER NOT NULL,                   -- outbox_posts (window_token, n)
    fate            TEXT    NOT NULL,
    detail          TEXT,                               -- this row's own answer in a batch
    PRIMARY KEY (outbox_id, window_token, post_n)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox_windows (
    window_token    TEXT    PRIMARY KEY,
    relay           TEXT    NOT NULL,
    claimed_at      TEXT    NOT NULL,
    row_ids         TEXT    NOT NULL                    -- JSON array of sync_outbox ids
) WITHOUT ROWID;
