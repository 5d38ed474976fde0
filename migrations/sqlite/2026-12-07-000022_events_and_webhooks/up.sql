-- The event log (transactional outbox): one row per change an integration cares about,
-- written in the transaction of the change. `id` is the insert order; `position` is the
-- commit order, given by the sequencer (services::events::sequence) to rows once they are
-- committed, so that a reader paging by position never skips a row committed late.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    position BIGINT UNIQUE,
    event_type TEXT NOT NULL,
    -- The customer the event is about (erasure scrubs their events; deliveries of one
    -- customer's events keep their order).
    customer_id BIGINT,
    -- Set for an event addressed to one webhook endpoint only (`webhook.test`): it is
    -- delivered there and is not in the feed.
    endpoint_id BIGINT,
    api_version TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- The last position given: it only grows, also after retention removed every event, so a
-- reader's cursor always stays behind new events. The sequencer locks this row, so
-- sequencers (of any instance) take turns.
CREATE TABLE event_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_position BIGINT NOT NULL
);
INSERT INTO event_sequence (id, last_position) VALUES (1, 0);

CREATE INDEX events_unsequenced_idx ON events (id) WHERE position IS NULL;
CREATE INDEX events_type_idx ON events (event_type, position);
CREATE INDEX events_customer_idx ON events (customer_id);
CREATE INDEX events_created_idx ON events (created_at);

-- Where events are sent. The secret signs deliveries (Standard Webhooks); after a rotation
-- the previous secret signs too until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason TEXT,
    -- Since when every attempt has failed (NULL after a success).
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One event to one endpoint, attempted until it succeeds or its retries run out.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_position BIGINT NOT NULL,
    customer_id BIGINT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_response_status INTEGER,
    last_latency_ms BIGINT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, customer_id, event_position)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
