-- Alpine 0011: the record is sealed inside PostgreSQL (alpine/record_seal.py calls this
-- function). It computes what alpine/record_check.py checks, exactly as the Python sealer
-- on SQLite does:
--
--   nonce(n)      = 16 random bytes, hex (from gen_random_uuid, PostgreSQL's strong random)
--   commitment(n) = sha256("argo-alpine-record|v1|" seq "|" kind "|" content "|" nonce)
--   hash(n)       = sha256(hash(n-1) "|" commitment(n))
--
-- under record_head's row lock, so sealers of every worker still take turns and seal each
-- position once, after its predecessor. `content` is a signal's verification_hash, or for
-- an outcome or an execution the update hash the caller computed (the exact JSON text of
-- alpine/canonical.py is Python's): `update_seqs` / `update_contents`. It seals at most
-- `batch` entries, stopping before an event whose content it was not given.
--
-- The entries are inserted unsigned; the function answers the ones to sign (every
-- `every`-th position and the last) with the number sealed. The caller signs them with
-- Alpine's key (which never enters the database) and sets kid and sig in the same
-- transaction, so no entry commits without its checkpoint.
CREATE FUNCTION alpine_record_seal(
    batch integer, every integer, update_seqs bigint[], update_contents text[]
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
        LIMIT batch
    LOOP
        EXIT WHEN event.content IS NULL;
        nonce := encode(
            substr(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), 1, 16),
            'hex'
        );
        entry_commitment := encode(sha256(convert_to(
            'argo-alpine-record|v1|' || event.seq || '|' || event.kind || '|' || event.content
            || '|' || nonce, 'UTF8')), 'hex');
        running := encode(sha256(convert_to(running || '|' || entry_commitment, 'UTF8')), 'hex');
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
