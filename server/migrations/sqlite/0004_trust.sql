-- Issue 10: card-proof nonces are issued for one purpose; counters every instance shares
-- (per-card login limit), one row per bucket and fixed window.
DELETE FROM card_nonces;
ALTER TABLE card_nonces ADD COLUMN purpose TEXT NOT NULL DEFAULT '';

CREATE TABLE rate_counters (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_window ON rate_counters (window_start);

-- When the newest password attempt that counted as a failure was reserved (login lockout).
ALTER TABLE accounts ADD COLUMN last_failed_at BIGINT;
