-- RFM scores of every buyer, recomputed when the order statistics change (see
-- repositories::segments::ensure_rfm_current), so segments select by RFM through an index.
CREATE TABLE customer_rfm (
    customer_id BIGINT PRIMARY KEY,
    recency_score BIGINT NOT NULL,
    frequency_score BIGINT NOT NULL,
    monetary_score BIGINT NOT NULL,
    rfm_segment TEXT NOT NULL
);
CREATE INDEX customer_rfm_segment_idx ON customer_rfm (rfm_segment, customer_id);

-- One row: a fingerprint of customer_order_stats when the scores were computed.
CREATE TABLE rfm_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    computed_at TIMESTAMP
);
INSERT INTO rfm_state (id, fingerprint, computed_at) VALUES (1, '', NULL);
