DROP TABLE rfm_state;
DROP TABLE customer_rfm;
