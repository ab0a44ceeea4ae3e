-- The published record: each feed event (signal, outcome, execution) becomes an entry of a
-- hash chain, sealed in feed order by alpine/record.py after it commits. An entry commits to
-- its content with a secret nonce (revealed only with the event itself, so a tier that may
-- not see it yet learns nothing from its commitment), links to the previous entry's hash, and
-- is signed with Alpine's receipt key. Deleting a feed event deletes its entry (the chain then
-- breaks for everyone after it); editing a row breaks its commitment.
CREATE TABLE IF NOT EXISTS record_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,  -- the last sealed feed position
    hash text    NOT NULL   -- its entry hash (64 zeros before the first)
);
INSERT INTO record_head (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS record_entries (
    seq        bigint PRIMARY KEY REFERENCES feed_events (seq) ON DELETE CASCADE,
    commitment text   NOT NULL,  -- sha256 of the entry's position, kind, content hash and nonce
    nonce      text   NOT NULL,  -- secret until the event is served
    hash       text   NOT NULL,  -- sha256 of the previous entry's hash and this commitment
    kid        text   NOT NULL,
    sig        text   NOT NULL,  -- Ed25519 over {"hash","kid","seq","v"} (sorted, compact)
    sealed_at  timestamptz NOT NULL DEFAULT now()
);
