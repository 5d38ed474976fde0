-- Automated flows: a trigger, entry rules and steps. A flow's definition is versioned: a
-- run keeps the version it entered with, so a change applies to new entries only.
CREATE TABLE flows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'paused')),
    trigger_type TEXT NOT NULL,
    version INTEGER NOT NULL,
    template_key TEXT,
    activated_at TIMESTAMP,
    -- The last scheduled scan (birthdays, anniversaries, lapsed, segment entry, enquiries).
    last_scan_at TIMESTAMP,
    -- Whether a `segment_entered` flow has recorded its first membership (the baseline).
    segment_baseline BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX flows_status_idx ON flows (status, trigger_type);

CREATE TABLE flow_versions (
    flow_id BIGINT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- One customer's way through one flow: the step it is at and when that step is due.
CREATE TABLE flow_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id BIGINT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    customer_id BIGINT,
    -- The enquiry an `enquiry_unresolved` run is about (one run per enquiry).
    enquiry_id BIGINT,
    holdout BOOLEAN NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'completed', 'exited')),
    exit_reason TEXT,
    step INTEGER NOT NULL,
    next_at TIMESTAMP NOT NULL,
    promo_code TEXT,
    promo_expires_at TIMESTAMP,
    -- The last message of the run (what `opened_last_message` asks about).
    last_contact_id BIGINT,
    entered_at TIMESTAMP NOT NULL,
    -- Orders until then count as this run's conversions (entry + the conversion window).
    conversion_until TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX flow_runs_due_idx ON flow_runs (next_at) WHERE state = 'active';
CREATE INDEX flow_runs_customer_idx ON flow_runs (customer_id, flow_id);
CREATE INDEX flow_runs_flow_idx ON flow_runs (flow_id, state);
CREATE UNIQUE INDEX flow_runs_enquiry_idx ON flow_runs (flow_id, enquiry_id) WHERE enquiry_id IS NOT NULL;

-- What each step did for a run: a message, a delivery-list entry, a held-back message.
CREATE TABLE flow_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
    flow_id BIGINT NOT NULL,
    customer_id BIGINT,
    step INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    channel TEXT,
    message_id BIGINT,
    token TEXT UNIQUE,
    opened_at TIMESTAMP,
    clicked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
-- The frequency cap shared with campaigns counts messaged contacts per customer.
CREATE INDEX flow_contacts_cap_idx ON flow_contacts (customer_id, created_at) WHERE outcome IN ('messaged', 'listed');
CREATE INDEX flow_contacts_run_idx ON flow_contacts (run_id);
CREATE INDEX flow_contacts_flow_idx ON flow_contacts (flow_id, step, outcome);

-- How far the trigger reader has read the event log.
CREATE TABLE flow_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_position BIGINT NOT NULL
);
INSERT INTO flow_cursor (id, last_position) VALUES (1, 0);

-- A `segment_entered` flow's members at its last scan: who is new is who is not here.
CREATE TABLE flow_segment_members (
    flow_id BIGINT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (flow_id, customer_id)
);

-- An email's optional HTML part (sent as multipart/alternative with the text).
ALTER TABLE messages ADD COLUMN html_body TEXT;

-- A campaign's optional HTML content, sent with `content` as multipart/alternative.
ALTER TABLE campaigns ADD COLUMN content_html TEXT;
