-- Alpine 0005 for SQLite: which signals Argo traded, as 0007 on PostgreSQL. SQLite cannot
-- add a table constraint to an existing table, so each column checks itself; the store
-- writes the three together, once.
ALTER TABLE signals ADD COLUMN order_id TEXT
    CHECK (order_id IS NULL OR (length(order_id) BETWEEN 1 AND 64));
ALTER TABLE signals ADD COLUMN executed_at TEXT;
ALTER TABLE signals ADD COLUMN fill_price REAL CHECK (fill_price IS NULL OR fill_price > 0);
