-- Issue 17: one pending card replacement per person, enforced by the database (a partial
-- unique index: a second pending row fails whatever the service checked before), and
-- operator notes marked internal (staff only) or citizen (shown to the person). Notes written
-- before this were not marked: they become internal, so nothing meant for staff is shown.
ALTER TABLE application_events ADD COLUMN note_visibility TEXT NOT NULL DEFAULT 'internal';

-- Duplicates from before: all but the newest pending replacement of a person are rejected,
-- with an internal note saying why.
INSERT INTO application_events (application_id, status, at, actor, note, note_visibility)
SELECT id, 'rejected', updated_at, 'migration', 'duplicate pending card replacement (issue 17)', 'internal'
FROM applications a
WHERE kind = 'card_replacement' AND status IN ('submitted', 'in_review', 'card_production')
  AND id <> (SELECT MAX(b.id) FROM applications b WHERE b.account_id = a.account_id
             AND b.kind = 'card_replacement' AND b.status IN ('submitted', 'in_review', 'card_production'));
UPDATE applications SET status = 'rejected'
WHERE kind = 'card_replacement' AND status IN ('submitted', 'in_review', 'card_production')
  AND id IN (SELECT application_id FROM application_events WHERE actor = 'migration' AND status = 'rejected');

CREATE UNIQUE INDEX applications_one_pending_replacement ON applications (account_id)
    WHERE kind = 'card_replacement' AND status IN ('submitted', 'in_review', 'card_production');
