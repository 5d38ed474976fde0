-- Counting a segment reads the live customers' ids: from this index, not the table.
CREATE INDEX customers_live_idx ON customers (id) WHERE erased_at IS NULL;
-- Per-customer sums of order statistics read from the index alone.
CREATE INDEX customer_order_stats_sums_idx
    ON customer_order_stats (customer_id, currency, orders_count, total_spent, first_order_at, last_order_at);
