-- Issue 16: a step-up nonce is issued to one session (the SHA-256 of its cookie token); only
-- that session's step-up can use it. NULL for every other purpose.
ALTER TABLE card_nonces ADD COLUMN session_hash TEXT;
