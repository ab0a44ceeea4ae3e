-- Alpine 0004: wake the live feed. Every INSERT into signals that stores a row sends
-- NOTIFY alpine_signals in its own transaction, so listeners hear of it at commit,
-- never before (alpine/listener.py; the feed itself still reads the table).
CREATE FUNCTION alpine_signals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('alpine_signals', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER signals_notify
    AFTER INSERT ON signals
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION alpine_signals_notify();
