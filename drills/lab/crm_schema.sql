-- The CRM schema of the lab: what a drill must bring back intact.
CREATE TABLE IF NOT EXISTS accounts (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    industry    text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS opportunities (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    name        text NOT NULL,
    stage       text NOT NULL CHECK (stage IN ('prospect', 'qualified', 'proposal', 'won', 'lost')),
    amount      numeric(12, 2) NOT NULL CHECK (amount >= 0),
    close_date  date NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    id          bigint PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    contact_id  bigint NOT NULL REFERENCES contacts (id),
    subject     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'pending', 'closed')),
    priority    smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz
);
CREATE TABLE IF NOT EXISTS activities (
    id              bigint PRIMARY KEY,
    contact_id      bigint NOT NULL REFERENCES contacts (id),
    opportunity_id  bigint REFERENCES opportunities (id),
    kind            text NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
    notes           text NOT NULL,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_account_idx ON contacts (account_id);
CREATE INDEX IF NOT EXISTS opportunities_account_idx ON opportunities (account_id);
CREATE INDEX IF NOT EXISTS cases_account_idx ON cases (account_id);
CREATE INDEX IF NOT EXISTS activities_contact_idx ON activities (contact_id);
-- Heartbeats of the write probe: ids are chosen by the client so the ledger knows them
-- before the acknowledgement.
CREATE TABLE IF NOT EXISTS crmdr_probe (
    id          bigint PRIMARY KEY,
    writer      text NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now(),
    note        text
);
-- Downtime intake (issue 14): a case and an activity entered by `crmdr intake replay` carry
-- the request id; the UNIQUE index makes a re-run after a killed replay enter nothing twice.
-- The same two statements are the migration for a real CRM (docs/intake.md).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS intake_request_id text;
CREATE UNIQUE INDEX IF NOT EXISTS cases_intake_request_key ON cases (intake_request_id);
ALTER TABLE activities ADD COLUMN IF NOT EXISTS intake_request_id text;
CREATE UNIQUE INDEX IF NOT EXISTS activities_intake_request_key ON activities (intake_request_id);
