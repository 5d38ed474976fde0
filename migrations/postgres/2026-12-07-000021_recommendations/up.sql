-- Recommendations (see docs/recommendations.md): what the background job
-- (services::recommendations::refresh) derives from the orders, so that segments and
-- recommendations read an index instead of every order line.

-- Per customer and currency: the 25th and 75th percentile of the unit prices they paid
-- (each unit counts once), over the lines of orders that were not cancelled, net of refunds.
CREATE TABLE customer_price_bands (
    customer_id BIGINT NOT NULL,
    currency TEXT NOT NULL,
    low BIGINT NOT NULL,
    high BIGINT NOT NULL,
    units BIGINT NOT NULL,
    PRIMARY KEY (customer_id, currency)
);
CREATE INDEX customer_price_bands_range_idx ON customer_price_bands (currency, low, high);

-- Per customer: the share of their units (and of their spend, in their main currency) of
-- each product type (`product_type`) and each line attribute value (`attributes.<key>`).
CREATE TABLE customer_affinities (
    customer_id BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    unit_share DOUBLE PRECISION NOT NULL,
    spend_share DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (customer_id, dimension, value)
);
CREATE INDEX customer_affinities_share_idx ON customer_affinities (dimension, value, unit_share, customer_id);

-- Also bought: for each product, the products most associated with it, counted over
-- customers, with at least the minimum support; `position` 1 is the strongest.
CREATE TABLE product_associations (
    product_id BIGINT NOT NULL,
    related_id BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    lift DOUBLE PRECISION NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (product_id, related_id)
);
CREATE INDEX product_associations_position_idx ON product_associations (product_id, position);

-- Best sellers: customers who bought each product (for cold starts).
CREATE TABLE product_popularity (
    product_id BIGINT PRIMARY KEY,
    product_type TEXT NOT NULL,
    customers BIGINT NOT NULL,
    units BIGINT NOT NULL
);
CREATE INDEX product_popularity_customers_idx ON product_popularity (customers, product_id);
CREATE INDEX product_popularity_type_idx ON product_popularity (product_type, customers, product_id);

-- One row: a fingerprint of the orders (and erasures, merges) the tables were computed from.
CREATE TABLE recommendation_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    computed_at TIMESTAMP
);
INSERT INTO recommendation_state (id, fingerprint, computed_at) VALUES (1, '', NULL);
