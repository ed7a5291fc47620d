-- Issue 16: passkeys rooted in the card.
-- A session remembers the card that opened it (the card of an F3 login, or the card that
-- enrolled the passkey of a passkey login), so that a card reported lost or replaced ends
-- its sessions; and when (and with which card) it last stepped up for a passkey enrolment.
ALTER TABLE sessions ADD COLUMN card_number TEXT;
ALTER TABLE sessions ADD COLUMN stepped_up_at BIGINT;
ALTER TABLE sessions ADD COLUMN stepped_up_card TEXT;
CREATE INDEX sessions_card ON sessions (card_number);

-- The random WebAuthn user handle of an account (16 random bytes, hex): never the ID number.
ALTER TABLE accounts ADD COLUMN passkey_user_handle TEXT;
CREATE UNIQUE INDEX accounts_passkey_user_handle ON accounts (passkey_user_handle);

CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- base64url of the credential id
    credential_id TEXT NOT NULL UNIQUE,
    -- webauthn-rs' serialised Passkey (public key, counter, flags)
    passkey TEXT NOT NULL,
    name TEXT NOT NULL,
    enrolled_card_number TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    sign_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_account ON passkeys (account_id);
CREATE INDEX passkeys_card ON passkeys (enrolled_card_number);

-- Open registration / login ceremonies: single-use (DELETE … RETURNING), 5 minutes.
CREATE TABLE passkey_ceremonies (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    -- the session a registration belongs to; NULL for a login
    session_hash TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
