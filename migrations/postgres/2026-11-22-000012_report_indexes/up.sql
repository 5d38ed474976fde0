-- Campaign reports ask, for each contacted customer, whether they ordered in the
-- attribution window: one index probe per contact instead of reading their orders.
CREATE INDEX orders_customer_placed_idx ON orders (customer_id, placed_at, status);
