DROP TABLE cohort_activity;
DROP INDEX orders_customer_currency_idx;
DROP TABLE rfm_segment_totals;
DROP INDEX customer_order_stats_currency_spent_idx;
