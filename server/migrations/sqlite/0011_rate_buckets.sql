-- Issue 14: the API rate limit's token buckets, shared by every instance (PostgreSQL; on
-- SQLite the table exists for the one schema but the in-process limiter is used). GCRA: one
-- row per (endpoint class, client) holding its theoretical arrival time, in microseconds
-- since the epoch on the database's clock; a row whose `tat` is past is a full bucket.
CREATE TABLE rate_buckets (
    bucket TEXT PRIMARY KEY,
    tat BIGINT NOT NULL,
    -- The decision of the statement that wrote the row last (how the one upsert answers).
    allowed BOOLEAN NOT NULL
);
CREATE INDEX rate_buckets_tat ON rate_buckets (tat);
