-- Online services after login (FLOWS F9, issue 7): the health bank's sample records, the
-- enrolment history behind the 投保證明, and online applications with their status timeline.
-- Dates of records are ISO `YYYY-MM-DD` text; times are Unix seconds.

-- One row per person whose sample records were generated (deterministic per person, from
-- the anchor date of the first query).
CREATE TABLE health_bank_seeds (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    anchor_date TEXT NOT NULL,
    seeded_at BIGINT NOT NULL
);

CREATE TABLE medical_visits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    visit_date TEXT NOT NULL,
    institution TEXT NOT NULL,
    diagnosis_code TEXT NOT NULL,
    diagnosis_zh TEXT NOT NULL,
    diagnosis_en TEXT NOT NULL,
    cost BIGINT NOT NULL,
    copayment BIGINT NOT NULL
);
CREATE INDEX medical_visits_account_date ON medical_visits (account_id, visit_date);

CREATE TABLE medications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id BIGINT NOT NULL REFERENCES medical_visits (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    days BIGINT NOT NULL
);
CREATE INDEX medications_visit ON medications (visit_id);

CREATE TABLE enrolments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    unit_name TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    category TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT
);
CREATE INDEX enrolments_account ON enrolments (account_id, start_date);

CREATE TABLE applications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('card_replacement', 'enrolment_certificate')),
    status TEXT NOT NULL,
    reason TEXT,
    postal_code TEXT,
    mailing_address TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX applications_account ON applications (account_id, created_at);
CREATE INDEX applications_status ON applications (status);

CREATE TABLE application_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id BIGINT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT
);
CREATE INDEX application_events_application ON application_events (application_id);
