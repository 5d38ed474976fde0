DROP TABLE customer_merges;
DROP TABLE customer_search_terms;
DROP TABLE customer_tags;
DROP TABLE customers;
