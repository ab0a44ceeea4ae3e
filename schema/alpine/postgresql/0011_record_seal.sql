-- Alpine 0011: the record is sealed inside PostgreSQL (alpine/record_seal.py calls this
-- function). It computes what alpine/record_check.py checks, exactly as the Python sealer
-- on SQLite does:
--
--   commitment(n) = sha256("argo-alpine-record|v1|" seq "|" kind "|" content "|" nonce)
--   hash(n)       = sha256(hash(n-1) "|" commitment(n))
--
-- under record_head's row lock, so sealers of every worker still take turns and seal each
-- position once, after its predecessor. `content` is a signal's verification_hash, or for
-- an outcome or an execution the update hash the caller computed (the exact JSON text of
-- alpine/canonical.py is Python's): `update_seqs` / `update_contents`. The nonces are the
-- caller's `noise` (16 random bytes from the OS for each entry, written as hex): it seals
-- the positions from the first unsealed event to length(noise) / 16 past it, stopping
-- before an event whose content it was not given. Every text hashed is ASCII (hex,
-- digits, the kind, `|`), so textsend's bytes are the ones Python hashes.
--
-- The entries are inserted unsigned; the function answers the ones to sign (every
-- `every`-th position and the last) with the number sealed. The caller signs them with
-- Alpine's key (which never enters the database) and sets kid and sig in the same
-- transaction, so no entry commits without its checkpoint.
CREATE FUNCTION alpine_record_seal(
    every integer, update_seqs bigint[], update_contents text[], noise bytea
) RETURNS TABLE (entry_seq bigint, entry_hash text, sealed integer)
LANGUAGE plpgsql AS $$
DECLARE
    running text;
    last_sealed bigint;
    first_seq bigint;
    event record;
    nonce text;
    entry_commitment text;
    n integer := 0;
    seqs bigint[] := '{}';
    commitments text[] := '{}';
    nonces text[] := '{}';
    hashes text[] := '{}';
BEGIN
    SELECT h.seq, h.hash INTO last_sealed, running
    FROM record_head AS h WHERE h.id = 1 FOR UPDATE;
    SELECT min(f.seq) INTO first_seq FROM feed_events AS f WHERE f.seq > last_sealed;
    IF first_seq IS NULL THEN
        RETURN;
    END IF;
    FOR event IN
        SELECT f.seq, f.kind,
               CASE WHEN f.kind = 'signal' THEN s.verification_hash ELSE u.content END AS content
        FROM feed_events AS f
        JOIN signals AS s ON s.id = f.signal_row
        LEFT JOIN unnest(update_seqs, update_contents) AS u (seq, content) ON u.seq = f.seq
        -- A range of the primary key rather than ORDER BY ... LIMIT: planned as an index
        -- range scan whatever the table's statistics say. It starts at the first event
        -- after the last sealed one, so events removed behind Alpine's back (a gap) never
        -- stop the seal.
        WHERE f.seq >= first_seq AND f.seq < first_seq + length(noise) / 16
        ORDER BY f.seq
    LOOP
        EXIT WHEN event.content IS NULL;
        nonce := encode(substr(noise, 16 * n + 1, 16), 'hex');
        entry_commitment := encode(sha256(textsend(
            'argo-alpine-record|v1|' || event.seq || '|' || event.kind || '|' || event.content
            || '|' || nonce)), 'hex');
        running := encode(sha256(textsend(running || '|' || entry_commitment)), 'hex');
        n := n + 1;
        seqs[n] := event.seq;
        commitments[n] := entry_commitment;
        nonces[n] := nonce;
        hashes[n] := running;
    END LOOP;
    IF n = 0 THEN
        RETURN;
    END IF;
    INSERT INTO record_entries (seq, commitment, nonce, hash, kid, sig)
    SELECT e.seq, e.commitment, e.nonce, e.hash, '', ''
    FROM unnest(seqs, commitments, nonces, hashes) AS e (seq, commitment, nonce, hash);
    UPDATE record_head AS h SET seq = seqs[n], hash = running WHERE h.id = 1;
    RETURN QUERY
        SELECT e.seq, e.hash, n
        FROM unnest(seqs, hashes) AS e (seq, hash)
        WHERE mod(e.seq, every) = 0 OR e.seq = seqs[n];
END
$$;

-- An entry goes when its feed event goes (deleted by hand: Alpine has no such path), so the
-- chain breaks for every subscriber at the next entry. A trigger rather than the foreign
-- key of 0009: the key's check on every sealed entry cost more than computing the entry.
-- On DELETE the trigger first takes record_head's row, so a seal in progress commits
-- before its entries are looked for, and a later seal no longer sees the event.
ALTER TABLE record_entries DROP CONSTRAINT record_entries_seq_fkey;

CREATE FUNCTION alpine_record_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE already holds feed_events exclusively: no seal reads it meanwhile.
        DELETE FROM record_entries;
    ELSE
        PERFORM 1 FROM record_head AS h WHERE h.id = 1 FOR UPDATE;
        DELETE FROM record_entries AS r USING removed AS d WHERE r.seq = d.seq;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER feed_events_forget
    AFTER DELETE ON feed_events
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION alpine_record_forget();

CREATE TRIGGER feed_events_truncate
    AFTER TRUNCATE ON feed_events
    FOR EACH STATEMENT EXECUTE FUNCTION alpine_record_forget();

-- The batch insert of alpine/pg_insert.py, answering what a receipt states of each row it
-- inserted: its feed position and the time stored, so a receipt needs no read after the
-- insert. One statement: the feed_head lock its trigger takes is still held for the commit
-- only. The positions are the trigger's (0008: the last `added` positions, in id order),
-- the time is feed_events.stored_at's default, now(): the transaction's start, one value
-- for every row. The columns are the keys pg_insert.py's _json_rows writes: change both
-- together.
CREATE FUNCTION alpine_insert_signals(batch jsonb, late_after double precision)
RETURNS TABLE (id bigint, signal_id text, late boolean, seq bigint, stored_at text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    signal_ids text[];
    lates boolean[];
    n integer;
    last_seq bigint;
BEGIN
    WITH inserted AS (
        INSERT INTO signals (
            signal_id, verification_hash, symbol, action, entry_price, target_price,
            stop_price, confidence, strategy, asset_type, data_source, "timestamp", reasoning,
            regime, api_key_id, ingest_traceparent, late
        )
        SELECT
            r.signal_id, r.verification_hash, r.symbol, r.action, r.entry_price, r.target_price,
            r.stop_price, r.confidence, r.strategy, r.asset_type, r.data_source, r."timestamp",
            r.reasoning, r.regime, r.api_key_id, r.ingest_traceparent,
            now() - r."timestamp" > make_interval(secs => late_after)
        FROM jsonb_populate_recordset(NULL::signals, batch) AS r
        ON CONFLICT DO NOTHING
        RETURNING signals.id, signals.signal_id, signals.late
    )
    SELECT array_agg(i.id ORDER BY i.id), array_agg(i.signal_id ORDER BY i.id),
           array_agg(i.late ORDER BY i.id)
    INTO ids, signal_ids, lates
    FROM inserted AS i;
    n := coalesce(array_length(ids, 1), 0);
    IF n = 0 THEN
        RETURN;
    END IF;
    SELECT h.seq INTO last_seq FROM feed_head AS h WHERE h.id = 1;
    RETURN QUERY
        SELECT r.id, r.signal_id, r.late, last_seq - n + r.k,
               to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        FROM unnest(ids, signal_ids, lates) WITH ORDINALITY AS r (id, signal_id, late, k);
END
$$;
