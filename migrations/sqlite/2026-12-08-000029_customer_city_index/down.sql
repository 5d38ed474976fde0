DROP INDEX customers_city_idx;
