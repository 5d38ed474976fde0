-- Forms the shop defines with its own questions (contact, subscribe, questionnaire).
-- `fields`, `consent_texts` and `reward` are JSON (see domain::form_definitions).
CREATE TABLE form_definitions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_key TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    purpose TEXT NOT NULL,
    fields TEXT NOT NULL,
    consent_texts TEXT NOT NULL,
    reward TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Personal links to a form: a random token (stored hashed), single use, expiring.
CREATE TABLE form_links (
    token_hash TEXT PRIMARY KEY,
    form_id BIGINT NOT NULL REFERENCES form_definitions (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    opened_at TIMESTAMP,
    used_at TIMESTAMP
);
CREATE INDEX form_links_form_idx ON form_links (form_id);
CREATE INDEX form_links_customer_idx ON form_links (customer_id);

-- What was answered. `answers` is JSON keyed by field name. A reward is given once per
-- customer and form: checked under the customer's row lock (a merge may join two).
CREATE TABLE form_submissions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id BIGINT NOT NULL REFERENCES form_definitions (id) ON DELETE CASCADE,
    customer_id BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    via_link BOOLEAN NOT NULL,
    answers TEXT NOT NULL,
    enquiry_id BIGINT,
    reward_type TEXT,
    reward_promo_code_id BIGINT,
    reward_status TEXT,
    ip TEXT,
    user_agent TEXT,
    answered_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX form_submissions_form_idx ON form_submissions (form_id, id);
CREATE INDEX form_submissions_customer_idx ON form_submissions (customer_id);

-- Where each value of a customer's profile came from: one row per value given, applied
-- or not (an older-dated answer arriving after a newer one is kept here, not applied).
CREATE TABLE attribute_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT,
    source TEXT NOT NULL,
    source_ref TEXT,
    actor TEXT,
    applied BOOLEAN NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX attribute_history_customer_idx ON attribute_history (customer_id, field, observed_at);
