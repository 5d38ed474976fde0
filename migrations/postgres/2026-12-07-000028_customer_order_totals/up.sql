-- Each customer's purchase statistics summed over their currencies, kept beside
-- customer_order_stats in the same transaction (repositories::orders::refresh_stats).
-- Segment conditions on order count, spend, average order value and first or last order
-- without a currency read one row per buyer here instead of grouping the rows per currency.
CREATE TABLE customer_order_totals (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    orders_count BIGINT NOT NULL,
    total_spent BIGINT NOT NULL,
    first_order_at TIMESTAMP NOT NULL,
    last_order_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_order_totals_spent_idx ON customer_order_totals (total_spent, customer_id);

INSERT INTO customer_order_totals (customer_id, orders_count, total_spent, first_order_at, last_order_at)
SELECT customer_id, CAST(SUM(orders_count) AS BIGINT), CAST(SUM(total_spent) AS BIGINT),
       MIN(first_order_at), MAX(last_order_at)
FROM customer_order_stats GROUP BY customer_id;
