-- Alpine 0002: subscribers with a tier and a bearer token (only its SHA-256 is kept).
CREATE TABLE subscribers (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    tier        TEXT NOT NULL CHECK (tier IN ('starter', 'pro', 'elite')),
    token_hash  TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

CREATE INDEX signals_visibility_idx ON signals ("timestamp", received_at);
