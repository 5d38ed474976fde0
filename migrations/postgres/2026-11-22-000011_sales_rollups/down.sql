DROP INDEX orders_promo_placed_idx;
DROP TABLE rollup_state;
DROP TABLE sales_customers;
DROP TABLE sales_daily;
