DROP TABLE campaign_orders;
DROP TABLE campaign_conversions;
