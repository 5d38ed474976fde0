DROP TABLE purchase_day_counts;
DROP TABLE purchase_days;
