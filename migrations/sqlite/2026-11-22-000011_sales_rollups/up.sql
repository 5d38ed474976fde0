-- Sales rollups, kept in the same transaction as every order, refund, cancellation and
-- merge (services::analytics::maintain), so dashboards read a few hundred rows instead of
-- scanning orders. Days are local dates in the shop's time zone (RAPPORT_TIMEZONE, kept in
-- rollup_state; a change of zone rebuilds the rollups at start-up).

-- Additive figures per local day, currency and dimension: ('all', ''), ('channel', web),
-- ('promo_code', CODE), ('product_type', shoes), ('sku', SKU-1).
CREATE TABLE sales_daily (
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    currency TEXT NOT NULL,
    day DATE NOT NULL,
    orders BIGINT NOT NULL,
    units BIGINT NOT NULL,
    gross BIGINT NOT NULL,
    discounts BIGINT NOT NULL,
    refunds BIGINT NOT NULL,
    new_customers BIGINT NOT NULL,
    PRIMARY KEY (dimension, value, currency, day)
);
CREATE INDEX sales_daily_day_idx ON sales_daily (dimension, currency, day);

-- Distinct customers with at least one order in each whole local day, ISO week, month
-- and year, per dimension value as above (not additive, so kept per granularity).
CREATE TABLE sales_customers (
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    granularity TEXT NOT NULL,
    currency TEXT NOT NULL,
    period_start DATE NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (dimension, value, granularity, currency, period_start)
);

-- One row: the time zone the local days above are in ('' until first built).
CREATE TABLE rollup_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    timezone TEXT NOT NULL,
    built_at TIMESTAMP
);
INSERT INTO rollup_state (id, timezone, built_at) VALUES (1, '', NULL);

-- Distinct customers of a promotion in a date range are counted from the orders: a
-- covering index, so the count never reads the orders themselves.
CREATE INDEX orders_promo_placed_idx
    ON orders (promo_code, placed_at, status, promo_code_status, currency, customer_id);
