-- Each customer's purchase days of each product, product type and promo code, linked to
-- the purchase days before and after (domain::purchase_days), so distinct buyers over any
-- range of days are counted without reading the orders. Kept with the sales rollups, in
-- the same transaction as every change to orders.
CREATE TABLE purchase_days (
    customer_id BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    currency TEXT NOT NULL,
    day DATE NOT NULL,
    previous_day DATE,
    next_day DATE,
    PRIMARY KEY (customer_id, dimension, value, currency, day)
);
-- Ranges of days of one value, with the links the counts need (covering).
CREATE INDEX purchase_days_range_idx ON purchase_days (dimension, value, currency, day, previous_day, next_day);

-- The rows above counted per month of the day and month of the previous day
-- ('0001-01-01': none), so whole months of a range are summed from a few cells.
CREATE TABLE purchase_day_counts (
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    currency TEXT NOT NULL,
    month DATE NOT NULL,
    previous_month DATE NOT NULL,
    days BIGINT NOT NULL,
    PRIMARY KEY (dimension, value, currency, month, previous_month)
);

-- Rebuild every rollup at the next start, so the tables above are filled.
UPDATE rollup_state SET timezone = '', built_at = NULL;
