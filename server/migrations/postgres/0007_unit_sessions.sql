-- Issue 12: sessions of a citizen digital certificate (自然人憑證) login. They act for insured
-- units only: no account is behind them (the person may have no NHI registration), so the
-- citizen pages, which look up `sessions`, never see them. The cookie holds a random token;
-- the table its SHA-256, as for `sessions`.
CREATE TABLE unit_sessions (
    token_hash TEXT PRIMARY KEY,
    national_id TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    certificate_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT
);
CREATE INDEX unit_sessions_expiry ON unit_sessions (expires_at);
