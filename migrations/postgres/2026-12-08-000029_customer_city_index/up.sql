-- A segment's `any` of a city and other sets reads each set by index (see
-- repositories::segments): the customers of a city, compared without regard to case as
-- LOWER(city), are found by this index alone (it holds the id and the city).
CREATE INDEX customers_city_idx ON customers (LOWER(city)) INCLUDE (id, city);
