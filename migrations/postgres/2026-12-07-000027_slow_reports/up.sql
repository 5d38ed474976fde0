-- customers/value: each percentile is one lookup at an offset of the buyers of a currency
-- ordered by spend, and the top buyers are the end of that order.
CREATE INDEX customer_order_stats_currency_spent_idx ON customer_order_stats (currency, total_spent, customer_id)
    INCLUDE (orders_count);

-- customers/rfm: the figures of each RFM segment per currency, computed with the scores
-- (customer_rfm) from the same purchase statistics, so a request reads a few rows.
CREATE TABLE rfm_segment_totals (
    currency TEXT NOT NULL,
    rfm_segment TEXT NOT NULL,
    customers BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    revenue BIGINT NOT NULL,
    -- The sum over the segment's customers of their last order, in seconds since 1970.
    last_order_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (currency, rfm_segment)
);
-- Scores kept before this table existed are computed again with it.
UPDATE rfm_state SET fingerprint = '' WHERE id = 1;

-- Cohorts: the orders of the customers of the cohorts in one currency, read index-only.
CREATE INDEX orders_customer_currency_idx ON orders (customer_id, currency, placed_at)
    INCLUDE (status, total, refunded_total);

-- Cohorts kept as a rollup (see src/domain/cohorts.rs): per granularity and currency, for
-- each cohort (the period of its customers' first order) and each period, the cohort's
-- customers who ordered in the period and the net revenue of those orders.
CREATE TABLE cohort_activity (
    granularity TEXT NOT NULL,
    currency TEXT NOT NULL,
    cohort_start DATE NOT NULL,
    period_start DATE NOT NULL,
    customers BIGINT NOT NULL,
    net BIGINT NOT NULL,
    PRIMARY KEY (granularity, currency, cohort_start, period_start)
);
-- The rollups are built again at the next start, this table with them.
UPDATE rollup_state SET timezone = '' WHERE id = 1;
