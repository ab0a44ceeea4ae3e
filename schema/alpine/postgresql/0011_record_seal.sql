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
-- at most length(noise) / 16 entries, stopping before an event whose content it was not
-- given. Every text hashed is ASCII (hex, digits, the kind, `|`), so textsend's bytes
-- are the ones Python hashes.
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
    FOR event IN
        SELECT f.seq, f.kind,
               CASE WHEN f.kind = 'signal' THEN s.verification_hash ELSE u.content END AS content
        FROM feed_events AS f
        JOIN signals AS s ON s.id = f.signal_row
        LEFT JOIN unnest(update_seqs, update_contents) AS u (seq, content) ON u.seq = f.seq
        WHERE f.seq > last_sealed
        ORDER BY f.seq
        LIMIT length(noise) / 16
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
-- The trigger first takes record_head's row, so a seal in progress commits before its
-- entries are looked for, and a later seal no longer sees the event.
ALTER TABLE record_entries DROP CONSTRAINT record_entries_seq_fkey;

CREATE FUNCTION alpine_record_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM record_head AS h WHERE h.id = 1 FOR UPDATE;
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM record_entries;
    ELSE
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
