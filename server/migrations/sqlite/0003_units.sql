-- Insured units (F4–F8, issue 6). SQLite. Times are Unix seconds.
CREATE TABLE insured_units (
    unit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin_national_id TEXT NOT NULL
);

-- The people currently insured in each unit (在保保險對象).
CREATE TABLE unit_insured (
    unit_code TEXT NOT NULL REFERENCES insured_units (unit_code) ON DELETE CASCADE,
    national_id TEXT NOT NULL,
    name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    PRIMARY KEY (unit_code, national_id)
);

-- F4: permissions the unit admin granted to staff (the admin has every permission implicitly).
CREATE TABLE unit_roles (
    unit_code TEXT NOT NULL REFERENCES insured_units (unit_code) ON DELETE CASCADE,
    national_id TEXT NOT NULL,
    can_upload BIGINT NOT NULL DEFAULT 0,
    can_query BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (unit_code, national_id)
);

-- F5: one row per uploaded file; also the durable job (status + lease + progress).
CREATE TABLE bulk_uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_code TEXT NOT NULL REFERENCES insured_units (unit_code),
    uploader_national_id TEXT NOT NULL,
    uploader_name TEXT NOT NULL,
    uploader_email TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_kind TEXT NOT NULL,
    encoding TEXT NOT NULL,
    content BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'done', 'failed')),
    total_rows BIGINT NOT NULL,
    processed_rows BIGINT NOT NULL DEFAULT 0,
    accepted_rows BIGINT NOT NULL DEFAULT 0,
    rejected_rows BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX bulk_uploads_unit ON bulk_uploads (unit_code, created_at);
CREATE INDEX bulk_uploads_open ON bulk_uploads (status) WHERE status IN ('queued', 'processing');

-- Each row's decision; (upload_id, row_number) makes a resumed chunk idempotent.
CREATE TABLE bulk_rows (
    upload_id BIGINT NOT NULL REFERENCES bulk_uploads (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    national_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    accepted BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (upload_id, row_number)
);

-- F7/F8: accepted rows waiting for their person to activate with the card.
CREATE TABLE bulk_registrants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id BIGINT NOT NULL REFERENCES bulk_uploads (id),
    row_number BIGINT NOT NULL,
    unit_code TEXT NOT NULL,
    national_id TEXT NOT NULL,
    name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    email TEXT NOT NULL,
    mobile TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
    token_hash TEXT UNIQUE,
    token_created_at BIGINT,
    expires_at BIGINT,
    account_id BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (upload_id, row_number)
);
CREATE UNIQUE INDEX bulk_registrants_one_pending ON bulk_registrants (national_id) WHERE status = 'pending';

-- Mail attachments (the upload result file), sent by the outbox worker with the mail.
CREATE TABLE outbox_attachments (
    outbox_id BIGINT PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content BLOB NOT NULL
);
