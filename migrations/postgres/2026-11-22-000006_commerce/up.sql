CREATE TABLE products (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    product_type TEXT NOT NULL,
    category TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    price BIGINT NOT NULL,
    currency TEXT NOT NULL,
    track_inventory BOOLEAN NOT NULL,
    stock_quantity BIGINT NOT NULL DEFAULT 0,
    low_stock_threshold BIGINT,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX products_sku_key ON products (sku);
CREATE INDEX products_type_idx ON products (product_type, id);
CREATE INDEX products_category_idx ON products (category, id);
CREATE INDEX products_stock_idx ON products (track_inventory, stock_quantity);

-- Every stock movement: adjustments, sales, cancellations.
CREATE TABLE stock_movements (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id BIGINT NOT NULL REFERENCES products (id),
    delta BIGINT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    order_id BIGINT,
    quantity_after BIGINT NOT NULL,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, id);

CREATE TABLE promo_codes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL,
    description TEXT,
    discount_type TEXT NOT NULL CHECK (discount_type IN ('percent', 'fixed', 'free_shipping')),
    discount_value BIGINT NOT NULL,
    currency TEXT,
    valid_from TIMESTAMP,
    valid_until TIMESTAMP,
    max_redemptions BIGINT,
    max_redemptions_per_customer BIGINT,
    min_subtotal BIGINT,
    campaign_id BIGINT,
    active BOOLEAN NOT NULL,
    redemptions BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Codes are stored upper-cased: the unique index makes them case-insensitive.
CREATE UNIQUE INDEX promo_codes_code_key ON promo_codes (code);

CREATE TABLE orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id TEXT,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL CHECK (status IN ('placed', 'paid', 'fulfilled', 'cancelled')),
    channel TEXT NOT NULL,
    source_detail TEXT,
    placed_at TIMESTAMP NOT NULL,
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    discount_total BIGINT NOT NULL,
    shipping_total BIGINT NOT NULL,
    tax_total BIGINT NOT NULL,
    total BIGINT NOT NULL,
    refunded_total BIGINT NOT NULL DEFAULT 0,
    promo_code TEXT,
    promo_code_id BIGINT REFERENCES promo_codes (id),
    promo_code_status TEXT,
    referral_code TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orders_external_id_key ON orders (external_id);
CREATE INDEX orders_customer_idx ON orders (customer_id, id);
CREATE INDEX orders_placed_idx ON orders (placed_at, id);
CREATE INDEX orders_status_idx ON orders (status, id);
CREATE INDEX orders_channel_idx ON orders (channel, id);
CREATE INDEX orders_promo_idx ON orders (promo_code, id);

CREATE TABLE order_lines (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    product_id BIGINT REFERENCES products (id),
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    product_type TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    quantity BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    refunded_quantity BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX order_lines_order_idx ON order_lines (order_id, id);
CREATE INDEX order_lines_sku_idx ON order_lines (sku, order_id);

CREATE TABLE promo_redemptions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    promo_code_id BIGINT NOT NULL REFERENCES promo_codes (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    discount_amount BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX promo_redemptions_code_idx ON promo_redemptions (promo_code_id, id);
CREATE INDEX promo_redemptions_customer_idx ON promo_redemptions (promo_code_id, customer_id);

CREATE TABLE refunds (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    lines TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_order_idx ON refunds (order_id, id);

-- Net purchase statistics per customer and currency, kept in the order's transaction.
CREATE TABLE customer_order_stats (
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    currency TEXT NOT NULL,
    orders_count BIGINT NOT NULL,
    total_spent BIGINT NOT NULL,
    first_order_at TIMESTAMP NOT NULL,
    last_order_at TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

-- Idempotency-Key: the first request's fingerprint and, once done, its response.
CREATE TABLE idempotency_keys (
    actor TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
    response_status INTEGER,
    response_body TEXT,
    response_location TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (actor, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
