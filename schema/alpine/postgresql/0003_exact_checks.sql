-- Alpine 0003: CHECKs for the rules of alpine/timestamps.py and alpine/validation.py
-- that 0001 did not mirror. NOT VALID: enforced for every new or updated row, while
-- rows stored under the older, looser rules do not block the upgrade.
ALTER TABLE signals
    -- Years 1970..9999 in UTC: the range both dialects store (docs/http-api.md).
    ADD CONSTRAINT signals_timestamp_range CHECK (
        "timestamp" >= '1970-01-01T00:00:00Z' AND "timestamp" <= '9999-12-31T23:59:59.999999Z'
    ) NOT VALID,
    ADD CONSTRAINT signals_closed_at_range CHECK (
        closed_at >= '1970-01-01T00:00:00Z' AND closed_at <= '9999-12-31T23:59:59.999999Z'
    ) NOT VALID,
    -- A long position loses at most everything; a short gains at most everything.
    ADD CONSTRAINT signals_profit_loss_bound CHECK (
        (action = 'BUY' AND profit_loss_pct >= -100) OR (action = 'SELL' AND profit_loss_pct <= 100)
    ) NOT VALID,
    -- An outcome is recorded whole or not at all.
    ADD CONSTRAINT signals_outcome_whole CHECK (
        num_nulls(outcome, exit_price, profit_loss_pct, closed_at) IN (0, 4)
    ) NOT VALID,
    ADD CONSTRAINT signals_strategy_pattern CHECK (
        strategy ~ '^[A-Za-z0-9][A-Za-z0-9 _.:/+\-]{0,63}$'
    ) NOT VALID,
    ADD CONSTRAINT signals_data_source_pattern CHECK (
        data_source ~ '^[A-Za-z0-9][A-Za-z0-9 _.:/+\-]{0,63}$'
    ) NOT VALID;
