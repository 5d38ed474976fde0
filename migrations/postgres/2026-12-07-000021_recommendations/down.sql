DROP TABLE recommendation_state;
DROP TABLE product_popularity;
DROP TABLE product_associations;
DROP TABLE customer_affinities;
DROP TABLE customer_price_bands;
