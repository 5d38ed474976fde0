-- Each contact's first response of each kind, and 'responded' for a click or a reply,
-- written with every response (repositories::campaigns::insert_responses); the primary
-- key makes concurrent first responses count once.
CREATE TABLE campaign_responders (
    campaign_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    contact_id BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, kind, contact_id)
);

-- The rows above counted per campaign and kind, so a report reads them in a few rows.
CREATE TABLE campaign_response_counts (
    campaign_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    contacts BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, kind)
);

-- Rebuild every rollup (these included) at the next start.
UPDATE rollup_state SET timezone = '', built_at = NULL;
