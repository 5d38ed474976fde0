-- Saved segments: a rule tree (JSON) compiled to SQL when used.
CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT,
    rules TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'post', 'phone')),
    segment_id BIGINT REFERENCES segments (id),
    -- The rules given with the campaign; at launch, the rules the audience was built from.
    rules TEXT,
    offer TEXT,
    subject TEXT,
    content TEXT,
    promo_kind TEXT NOT NULL CHECK (promo_kind IN ('none', 'shared', 'unique')),
    promo_code_id BIGINT REFERENCES promo_codes (id),
    unique_prefix TEXT,
    unique_discount_type TEXT,
    unique_discount_value BIGINT,
    unique_currency TEXT,
    cap_max_contacts BIGINT NOT NULL,
    cap_per_days BIGINT NOT NULL,
    exclude_campaign_ids TEXT NOT NULL DEFAULT '[]',
    holdout_percent BIGINT NOT NULL,
    attribution_window_days BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'launched')),
    -- The launch's counts (segment size, each exclusion, holdout, contacted), as JSON.
    audience TEXT,
    launched_at TIMESTAMP,
    send_requested_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX campaigns_segment_idx ON campaigns (segment_id);

-- One row per audience member: contacted, or kept back as the holdout (control) group.
CREATE TABLE campaign_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    holdout BOOLEAN NOT NULL,
    token TEXT,
    promo_code TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX campaign_contacts_token_key ON campaign_contacts (token);
CREATE INDEX campaign_contacts_campaign_idx ON campaign_contacts (campaign_id, holdout, id);
CREATE INDEX campaign_contacts_customer_idx ON campaign_contacts (customer_id, created_at);

CREATE TABLE campaign_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    contact_id BIGINT NOT NULL REFERENCES campaign_contacts (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL CHECK (kind IN ('delivered', 'opened', 'clicked', 'replied', 'bounced', 'unsubscribed', 'complained')),
    occurred_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX campaign_responses_campaign_idx ON campaign_responses (campaign_id, kind, contact_id);
CREATE INDEX campaign_responses_customer_idx ON campaign_responses (customer_id, occurred_at);

CREATE TABLE referral_codes (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX referral_codes_code_key ON referral_codes (code);

-- A referred customer has one referrer: the one whose code their first order carried.
CREATE TABLE referrals (
    referred_id BIGINT PRIMARY KEY REFERENCES customers (id),
    referrer_id BIGINT NOT NULL REFERENCES customers (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    code TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX referrals_referrer_idx ON referrals (referrer_id, referred_id);

-- Campaign mail goes through the outbox; RFC 8058 needs its List-Unsubscribe URL.
ALTER TABLE messages ADD COLUMN campaign_id BIGINT;
ALTER TABLE messages ADD COLUMN list_unsubscribe TEXT;
CREATE INDEX messages_campaign_idx ON messages (campaign_id, status);

-- Segment rules on purchases: by product type and by product (for category).
CREATE INDEX order_lines_type_idx ON order_lines (product_type, order_id);
CREATE INDEX order_lines_product_idx ON order_lines (product_id, order_id);
CREATE INDEX customer_order_stats_spent_idx ON customer_order_stats (total_spent, customer_id);
