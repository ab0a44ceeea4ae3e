-- Version 5: the attempt log (schema/argo-migrations/0007 on SQLite). outbox_posts: one row per
-- HTTP POST the relay made (when, which relay and window, Alpine's status or the transport
-- error's class, how long, a capped excerpt of the answer); outbox_attempts: one row per outbox
-- row in it and the fate it led to. Both written by the window's settle. A claim records its
-- window (token, relay, rows) in its own statement and the settle removes it: a window whose
-- relay was killed stays, and its rows read as in flight while they carry its token, then
-- unknown. Attempts go with their outbox row; `relay prune` removes posts no attempt refers to.
CREATE TABLE IF NOT EXISTS outbox_posts (
    window_token    text        NOT NULL,
    n               integer     NOT NULL,
    relay           text        NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    http_status     integer,
    error           text,
    answer          text        NOT NULL,
    events          integer     NOT NULL,
    PRIMARY KEY (window_token, n)
);
CREATE INDEX IF NOT EXISTS idx_posts_started ON outbox_posts (started_at);
CREATE TABLE IF NOT EXISTS outbox_attempts (
    outbox_id       bigint      NOT NULL REFERENCES sync_outbox (id) ON DELETE CASCADE,
    window_token    text        NOT NULL,
    post_n          integer     NOT NULL,
    fate            text        NOT NULL,
    detail          text,
    PRIMARY KEY (outbox_id, window_token, post_n)
);
CREATE TABLE IF NOT EXISTS outbox_windows (
    window_token    text        PRIMARY KEY,
    relay           text        NOT NULL,
    claimed_at      timestamptz NOT NULL,
    row_ids         bigint[]    NOT NULL
);
