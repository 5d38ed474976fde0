-- The consent ledger: append-only; the one exception is erasure, which strips personal
-- data from an event but keeps it.
CREATE TABLE consent_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'phone', 'post')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'subscribed', 'unsubscribed')),
    opt_in_level TEXT NOT NULL,
    source TEXT NOT NULL,
    method_detail TEXT,
    consent_text TEXT,
    consent_text_version TEXT,
    ip TEXT,
    user_agent TEXT,
    occurred_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX consent_events_customer_idx ON consent_events (customer_id, occurred_at, id);

-- The current state per customer and channel: the ledger's latest event (by occurred_at,
-- then id), kept in step with it by rapport, so filters on consent use an index.
CREATE TABLE customer_consents (
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    opt_in_level TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, channel)
);
CREATE INDEX customer_consents_state_idx ON customer_consents (channel, state, customer_id);
