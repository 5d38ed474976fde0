-- Campaign reports ask, for each contacted customer, whether they ordered in the
-- attribution window: one index probe per contact instead of reading their orders.
CREATE INDEX orders_customer_placed_idx ON orders (customer_id, placed_at, status);

-- Rankings sum a dimension's values over a range of days, and read distinct customers of
-- every value of one period: covering indexes, so neither reads the tables.
DROP INDEX sales_daily_day_idx;
CREATE INDEX sales_daily_range_idx
    ON sales_daily (dimension, currency, day, value, orders, units, gross, discounts, refunds, new_customers);
CREATE INDEX sales_customers_period_idx
    ON sales_customers (dimension, granularity, currency, period_start, value, customers);
