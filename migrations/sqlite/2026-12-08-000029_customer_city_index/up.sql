-- A segment's `any` of a city and other sets is read as a union of id sets (see
-- repositories::segments): the customers of a city, compared without regard to case as
-- LOWER(city), are found by this index (which holds each row's id).
CREATE INDEX customers_city_idx ON customers (LOWER(city));
