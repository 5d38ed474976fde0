DROP INDEX sales_customers_period_idx;
DROP INDEX sales_daily_range_idx;
CREATE INDEX sales_daily_day_idx ON sales_daily (dimension, currency, day);
DROP INDEX orders_customer_placed_idx;
