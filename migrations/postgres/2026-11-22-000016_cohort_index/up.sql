-- Cohorts: the customers whose first order in a currency falls in a range, without
-- reading every customer's statistics. It covers the columns that customers/value and
-- customers/rfm read per currency, so those stay index-only scans.
CREATE INDEX customer_order_stats_first_idx ON customer_order_stats (currency, first_order_at, customer_id)
    INCLUDE (orders_count, total_spent, last_order_at);
