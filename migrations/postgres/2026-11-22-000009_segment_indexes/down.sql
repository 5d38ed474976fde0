DROP INDEX customer_order_stats_sums_idx;
DROP INDEX customers_live_idx;
